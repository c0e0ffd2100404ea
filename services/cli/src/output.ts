/**
 * Lines to stdout that respect backpressure and a reader that went away: when the other end of a pipe
 * closes (`sluice tail | head -3`), writing stops quietly and `closed` turns true instead of EPIPE
 * ending the process with a stack trace.
 */
import type { Writable } from 'node:stream'

export class Output {
  private gone = false

  constructor(private readonly stream: Writable) {
    // EPIPE is the usual one (the reader exited); any other write error leaves nothing to write to either.
    stream.on('error', () => {
      this.gone = true
    })
  }

  /** The reader closed its end: nothing more can be shown. */
  get closed(): boolean {
    return this.gone
  }

  /** Writes the text and a newline; resolves when the stream can take more. */
  async line(text: string): Promise<void> {
    if (this.gone) return
    if (!this.stream.write(`${text}\n`)) await this.drained()
  }

  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.stream.off('drain', done)
        this.stream.off('close', done)
        this.stream.off('error', done)
        resolve()
      }
      this.stream.once('drain', done)
      this.stream.once('close', done)
      this.stream.once('error', done)
    })
  }

  /** Resolves once everything written so far has been handed to the OS (or the reader is gone), at most `maxMs` later. */
  flush(maxMs = 2000): Promise<void> {
    if (this.gone || this.stream.writableLength === 0) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, maxMs)
      timer.unref()
      this.stream.write('', () => {
        clearTimeout(timer)
        resolve()
      })
    })
  }
}
