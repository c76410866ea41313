import { Command, CommanderError } from 'commander';
import { reportError } from './output.js';
import { assertRunnable } from './remote.js';

type Register = (program: Command) => void;

/**
 * Each module's top-level commands, and how to load it. A run loads only the module of the command it
 * names, so `opx --version`, or a command that talks to a server, starts without the store, LangGraph
 * or the AWS SDKs; help and unknown commands load them all. The order is the order of `opx --help`.
 */
const MODULES: readonly { commands: readonly string[]; load: () => Promise<Register> }[] = [
  { commands: ['serve', 'worker'], load: async () => (await import('./commands/serve.js')).registerServe },
  { commands: ['migrate'], load: async () => (await import('./commands/migrate.js')).registerMigrate },
  { commands: ['ingest'], load: async () => (await import('./commands/ingest.js')).registerIngest },
  { commands: ['incidents'], load: async () => (await import('./commands/incidents.js')).registerIncidents },
  {
    commands: ['rules', 'services', 'changes', 'tokens', 'silences', 'sns'],
    load: async () => (await import('./commands/admin.js')).registerAdmin,
  },
  { commands: ['kb'], load: async () => (await import('./commands/knowledge.js')).registerKnowledge },
  { commands: ['jobs'], load: async () => (await import('./commands/jobs.js')).registerJobs },
  { commands: ['notify'], load: async () => (await import('./commands/notify.js')).registerNotify },
  { commands: ['keys'], load: async () => (await import('./commands/keys.js')).registerKeys },
  { commands: ['history'], load: async () => (await import('./commands/history.js')).registerHistory },
  {
    commands: ['investigate', 'replay', 'approve', 'reject'],
    load: async () => (await import('./commands/investigate.js')).registerInvestigate,
  },
  {
    commands: ['guardrails'],
    load: async () => (await import('./commands/guardrails.js')).registerGuardrails,
  },
  { commands: ['traces'], load: async () => (await import('./commands/traces.js')).registerTraces },
  {
    commands: ['costs', 'alarms'],
    load: async () => (await import('./commands/analytics.js')).registerAnalytics,
  },
  { commands: ['audit'], load: async () => (await import('./commands/audit.js')).registerAudit },
  { commands: ['demo'], load: async () => (await import('./commands/demo/index.js')).registerDemo },
  { commands: ['fake-llm'], load: async () => (await import('./commands/fake-llm.js')).registerFakeLlm },
];

/** Global options that take a value: the word after them is not a command. */
const VALUED_OPTIONS = new Set(['--data-dir', '--database-url', '--config', '--server', '--token']);

/** The command `argv` (Node's, with the executable and script) names, or undefined when it names none. */
export function commandOf(argv: readonly string[]): string | undefined {
  const words = argv.slice(2);
  for (let index = 0; index < words.length; index += 1) {
    const word = words[index]!;
    if (word === '--') return words[index + 1];
    // `opx --help incidents` prints the whole program's help: every command must be there.
    if (word === '-h' || word === '--help') return undefined;
    if (!word.startsWith('-')) return word;
    if (VALUED_OPTIONS.has(word)) index += 1;
  }
  return undefined;
}

function baseProgram(): Command {
  return new Command('opx')
    .description('OPX incident control plane: signals in, incidents out, advisory investigations')
    .version('0.1.0')
    .option('--data-dir <dir>', 'where the SQLite store lives (OPX_DATA_DIR, default ./.opx)')
    .option('--database-url <url>', 'postgres://… to use PostgreSQL instead (OPX_DATABASE_URL)')
    .option('--config <file>', 'settings file (OPX_CONFIG, default ./opx.config.yaml)')
    .option('--json', 'machine-readable output')
    .option('--server <url>', 'talk to a running OPX over its API instead of the store (OPX_SERVER)')
    .option('--token <token>', 'API token for --server (OPX_TOKEN); its scope decides what you may do')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
}

function finish(program: Command): Command {
  // A command with no remote form refuses --server before it opens anything.
  program.hook('preAction', (_program, action) => assertRunnable(action));
  const override = (command: Command): void => {
    command.exitOverride();
    for (const child of command.commands) override(child);
  };
  override(program);
  return program;
}

/**
 * The program with every command registered (help, the CLI fuzzer). `only` registers just the module
 * that holds that top-level command, when one does.
 */
export async function buildProgram(only?: string): Promise<Command> {
  const program = baseProgram();
  const chosen = only === undefined ? undefined : MODULES.find((module) => module.commands.includes(only));
  for (const module of chosen ? [chosen] : MODULES) (await module.load())(program);
  return finish(program);
}

export async function main(argv: string[]): Promise<void> {
  // A reader that stops early (`opx incidents list | head`) closes the pipe: stop quietly, as Unix
  // tools do, instead of dying with a stack trace.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
  const command = commandOf(argv);
  const versionOnly =
    command === undefined && argv.slice(2).some((word) => word === '-V' || word === '--version');
  const program = versionOnly ? finish(baseProgram()) : await buildProgram(command);
  // Tracing is loaded only when asked for: the OpenTelemetry API alone costs a command's start-up.
  const tracing =
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT ||
    process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ||
    process.env.OTEL_TRACES_EXPORTER
      ? await import('../telemetry/tracing.js')
      : undefined;
  try {
    if (tracing?.tracingRequested()) await (await import('../telemetry/sdk.js')).startTelemetry();
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has already printed help or the usage error.
      process.exitCode = error.exitCode === 0 ? 0 : 2;
      return;
    }
    process.exitCode = reportError(error);
  } finally {
    await tracing?.shutdownTelemetry();
  }
}
