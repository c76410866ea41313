import { type Command, InvalidArgumentError } from 'commander';
import { startStandInModel } from '../../llm/stand-in.js';

function integer(name: string, min: number, max: number) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < min || parsed > max)
      throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}`);
    return parsed;
  };
}

export function registerFakeLlm(program: Command): void {
  program
    .command('fake-llm')
    .description(
      'serve a stand-in OpenAI-compatible model on a local port, to try LLM mode with no key and no network; ' +
        'it answers each agent with the engine finding its prompt carries and reasons about nothing',
    )
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0: any free port)', integer('--port', 0, 65535), 8765)
    .option(
      '--delay-ms <ms>',
      'wait before each answer, like a real model',
      integer('--delay-ms', 0, 600_000),
      0,
    )
    .action(async (options: { host: string; port: number; delayMs: number }) => {
      const model = await startStandInModel(options);
      process.stdout.write(
        `stand-in model listening on ${model.url}\n` +
          'Run OPX against it (any model name; a listed one such as gpt-4.1-mini is priced at its list price):\n' +
          `  OPX_LLM_PROVIDER=openai-compatible OPX_LLM_BASE_URL=${model.url} OPX_LLM_MODEL=gpt-4.1-mini npm run demo\n`,
      );
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await model.close();
      process.stdout.write(`stand-in model stopped after ${model.exchanges.length} answers\n`);
    });
}
