/** Plain text tables for terminals: a header, aligned columns, numbers on the right. */
export type Align = 'left' | 'right'

export function formatTable(header: readonly string[], rows: readonly (readonly string[])[], align: readonly Align[] = []): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const render = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (align[i] === 'right' ? c.padStart(widths[i]!) : i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd()
  return [render(header), ...rows.map(render)].join('\n')
}

export function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')
}

const whole = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 })

/** 12345 → "12,345" */
export function formatCount(n: number): string {
  return whole.format(n)
}
