/** One CLI invocation: the command, and the flags/env resolved against the defaults. */
import { defaultRootPath, loadDefaults, parseArgv, resolveOverrides, type ParsedArgv, type ResolvedOverrides } from '../config/index.js';

export const COMMANDS = ['run', 'start', 'stop', 'restart', 'status', 'cluster', 'version', 'help'] as const;
export type Command = (typeof COMMANDS)[number];

export interface Invocation extends ResolvedOverrides {
  readonly command: Command;
  /** The flags as given, in order (passed on to a background `run`). */
  readonly flags: ParsedArgv['flags'];
  readonly rootPath: string;
}

/** A command-line mistake: printed with a hint, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function parseInvocation(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Invocation {
  const first = argv[0];
  if (first === '-h' || first === '--help') return parseInvocation(['help', ...argv.slice(1)], env);
  if (first === '-v' || first === '--version') return parseInvocation(['version', ...argv.slice(1)], env);

  const { positionals, flags } = parseArgv(argv);
  const [name, ...extra] = positionals;
  if (name !== undefined && !(COMMANDS as readonly string[]).includes(name)) {
    throw new UsageError(`Unknown command '${name}'`);
  }
  if (extra.length > 0) throw new UsageError(`Unexpected argument '${extra[0]}'`);
  // Like Harper, flags alone mean "run in the foreground"; nothing at all means help.
  const command: Command = (name as Command | undefined) ?? (flags.length > 0 ? 'run' : 'help');
  const resolved = resolveOverrides(flags, env, loadDefaults());
  return { ...resolved, command, flags, rootPath: resolved.rootPath ?? defaultRootPath() };
}
