import { Command, CommanderError } from 'commander';
import { shutdownTelemetry, tracingRequested } from '../telemetry/tracing.js';
import { registerAdmin } from './commands/admin.js';
import { registerAnalytics } from './commands/analytics.js';
import { registerAudit } from './commands/audit.js';
import { registerDemo } from './commands/demo/index.js';
import { registerFakeLlm } from './commands/fake-llm.js';
import { registerGuardrails } from './commands/guardrails.js';
import { registerHistory } from './commands/history.js';
import { registerIncidents } from './commands/incidents.js';
import { registerIngest } from './commands/ingest.js';
import { registerInvestigate } from './commands/investigate.js';
import { registerJobs } from './commands/jobs.js';
import { registerKeys } from './commands/keys.js';
import { registerKnowledge } from './commands/knowledge.js';
import { registerMigrate } from './commands/migrate.js';
import { registerServe } from './commands/serve.js';
import { registerTraces } from './commands/traces.js';
import { reportError } from './output.js';
import { assertRunnable } from './remote.js';

export function buildProgram(): Command {
  const program = new Command('opx')
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
  registerServe(program);
  registerMigrate(program);
  registerIngest(program);
  registerIncidents(program);
  registerAdmin(program);
  registerKnowledge(program);
  registerJobs(program);
  registerKeys(program);
  registerHistory(program);
  registerInvestigate(program);
  registerGuardrails(program);
  registerTraces(program);
  registerAnalytics(program);
  registerAudit(program);
  registerDemo(program);
  registerFakeLlm(program);
  // A command with no remote form refuses --server before it opens anything.
  program.hook('preAction', (_program, action) => assertRunnable(action));
  const override = (command: Command): void => {
    command.exitOverride();
    for (const child of command.commands) override(child);
  };
  override(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    if (tracingRequested()) await (await import('../telemetry/sdk.js')).startTelemetry();
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has already printed help or the usage error.
      process.exitCode = error.exitCode === 0 ? 0 : 2;
      return;
    }
    process.exitCode = reportError(error);
  } finally {
    await shutdownTelemetry();
  }
}
