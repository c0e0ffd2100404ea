/**
 * The `sluice` command line: global options, the commands, and how any outcome becomes one exit code
 * (see errors.ts) — usage mistakes 2, no stack traces, errors as one line on stderr.
 */
import { readFileSync } from 'node:fs'
import { Command, CommanderError, Option } from 'commander'
import { DEFAULT_ENDPOINT, createContext, type GlobalOptions, type RunCommand } from './context.js'
import { ExitCode, describeError, exitCodeOf, type ExitCodeValue } from './errors.js'
import { Output } from './output.js'
import { wholeNumber } from './options.js'
import { benchCommand } from './commands/bench.js'
import { keysCommand } from './commands/keys.js'
import { lagCommand } from './commands/lag.js'
import { putCommand } from './commands/put.js'
import { streamsCommand } from './commands/streams.js'
import { tailCommand } from './commands/tail.js'

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }

const EXIT_CODES_HELP = `
Exit codes: 0 done; 1 failed (the service refused or was unreachable, or some records were not put);
2 usage; 3 not found (stream, group or key); 4 access (no API key, a wrong one, or one without the
scope); 5 the stream exists already; 130 put interrupted.`

/** Parses `argv` (without node and the script) and runs the command; resolves with the exit code. */
export async function runCli(argv: readonly string[], out: Output, interrupted: AbortSignal): Promise<ExitCodeValue> {
  let exitCode: ExitCodeValue = ExitCode.ok
  let apiKeyGiven = false
  const run: RunCommand = async (cmd, action) => {
    const globals = cmd.optsWithGlobals<GlobalOptions>()
    apiKeyGiven = Boolean(globals.apiKey)
    const code = await action(createContext(globals, out, interrupted))
    if (code !== undefined) exitCode = code
  }

  const program = new Command('sluice')
    .description("Sluice's command line: streams, put, tail, consumer-group lag and API keys, over the REST API.")
    .version(version, '-V, --version', 'print the version')
    .addOption(new Option('--endpoint <url>', 'the Sluice service').env('SLUICE_ENDPOINT').default(DEFAULT_ENDPOINT))
    .addOption(new Option('--api-key <token>', 'an API key (sluice_…) when the service requires one; prefer the variable, a command line is visible to other users').env('SLUICE_API_KEY'))
    .addOption(new Option('--timeout <seconds>', 'give up on a request with no answer after this long').default(30).argParser(wholeNumber(1, 3600)))
    .addHelpText('after', EXIT_CODES_HELP)
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({
      writeOut: (s) => void process.stdout.write(s),
      writeErr: (s) => void process.stderr.write(s),
      // One line: commander puts its suggestion ("Did you mean …?") on a second one.
      outputError: (s, write) => write(`sluice: ${s.replace(/^error: /, '').trim().replace(/\s*\n\s*/g, ' ')}\n`),
    })
  streamsCommand(program, run)
  putCommand(program, run)
  tailCommand(program, run)
  lagCommand(program, run)
  keysCommand(program, run)
  benchCommand(program, run)
  // Every command and sub-command: the same error handling, and help after a usage error points the way.
  const all = (c: Command): Command[] => [c, ...c.commands.flatMap(all)]
  for (const c of all(program)) {
    c.exitOverride().configureOutput(program.configureOutput())
    if (c !== program) c.showSuggestionAfterError()
  }

  try {
    await program.parseAsync([...argv], { from: 'user' })
    return exitCode
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end with code 0; any other parse error is a usage error.
      return err.exitCode === 0 ? ExitCode.ok : ExitCode.usage
    }
    process.stderr.write(`sluice: ${describeError(err, { apiKeyGiven })}\n`)
    return exitCodeOf(err)
  }
}
