/**
 * Reading SLUICE_* variables for a service's configuration (ingest, archiver, the S3 settings they
 * share): each reader returns the value or its default and appends a problem naming the variable,
 * so a service reports every bad value at once.
 */
export type Env = Record<string, string | undefined>

export interface EnvReader {
  /** the value, or the fallback when unset or empty */
  str(name: string, fallback: string): string
  /** a whole number within [min, max] */
  int(name: string, fallback: number, min: number, max: number): number
  /** one of the allowed words; undefined when unset */
  oneOf<T extends string>(name: string, allowed: readonly T[]): T | undefined
  /** 1, 0, true or false; false when unset */
  flag(name: string): boolean
}

export function envReader(env: Env, problems: string[]): EnvReader {
  return {
    str(name, fallback) {
      const v = env[name]
      return v === undefined || v === '' ? fallback : v
    },
    int(name, fallback, min, max) {
      const raw = env[name]
      if (raw === undefined || raw === '') return fallback
      if (!/^\d+$/.test(raw.trim())) {
        problems.push(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`)
        return fallback
      }
      const v = Number(raw.trim())
      if (v < min || v > max) problems.push(`${name} must be from ${min} to ${max}, got ${v}`)
      return v
    },
    oneOf<T extends string>(name: string, allowed: readonly T[]): T | undefined {
      const raw = env[name]
      if (raw === undefined || raw === '') return undefined
      if ((allowed as readonly string[]).includes(raw)) return raw as T
      problems.push(`${name} must be one of ${allowed.join(', ')}, got "${raw}"`)
      return undefined
    },
    flag(name) {
      const raw = env[name]
      if (raw === undefined || raw === '') return false
      if (raw === '1' || raw === 'true') return true
      if (raw === '0' || raw === 'false') return false
      problems.push(`${name} must be 1, 0, true or false, got "${raw}"`)
      return false
    },
  }
}
