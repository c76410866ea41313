import type { Command } from 'commander';
import { OpxError } from '../../domain/errors.js';
import type { Finding } from '../../domain/finding.js';
import type { Recommendation } from '../../store/repositories/investigations.js';
import type { TrustScore } from '../../trust/trust.js';
import { cliPrincipal, globalOptions, withRuntime } from '../context.js';
import { clipText, printJson, printTable, shortTime } from '../output.js';
import { remoteClient } from '../remote.js';

export function printFindings(findings: readonly Finding[]): void {
  for (const finding of findings) {
    const marker = finding.insufficientEvidence ? ' (insufficient evidence)' : '';
    const grounding = finding.grounding ? `, grounded ${finding.grounding.score.toFixed(2)}` : '';
    process.stdout.write(
      `\n[${finding.agent}] confidence ${finding.confidence}${grounding}${marker}\n  ${finding.summary}\n`,
    );
    for (const claim of finding.claims)
      process.stdout.write(
        `  - ${claim.grounded === false ? '(UNSUPPORTED) ' : ''}${claim.text}  [${claim.evidenceIds.join(', ')}]\n`,
      );
    for (const check of finding.grounding?.unsupported ?? [])
      process.stdout.write(`    ! ${check.source}: ${check.problems.join('; ')}\n`);
  }
}

/** The investigation's trust line: score, components, and why it is not higher. */
export function printTrust(trust: TrustScore | undefined): void {
  if (!trust) return;
  const { components: c } = trust;
  process.stdout.write(
    `trust ${trust.score.toFixed(2)}${trust.abstain ? ' (OPX abstains)' : ''}: grounding ${c.grounding.toFixed(2)}, agreement ${c.agreement.toFixed(2)}, reliability ${c.reliability.toFixed(2)}, coverage ${c.coverage.toFixed(2)}, freshness ${c.freshness.toFixed(2)}\n`,
  );
  for (const reason of trust.reasons) process.stdout.write(`  - ${reason}\n`);
}

export function printRecommendations(
  recommendations: readonly Pick<
    Recommendation,
    'rank' | 'id' | 'kind' | 'risk' | 'confidence' | 'trust' | 'status' | 'title'
  >[],
): void {
  printTable(
    ['#', 'id', 'kind', 'risk', 'conf', 'trust', 'status', 'recommendation'],
    recommendations.map((item) => [
      item.rank,
      item.id,
      item.kind,
      item.risk,
      item.confidence.toFixed(2),
      item.trust === null ? '–' : item.trust.toFixed(2),
      item.status,
      clipText(item.title, 60),
    ]),
  );
}

/**
 * What a local run does on the store, loaded only then: a run against a server (--server) needs none
 * of it, and it brings LangGraph and the model SDKs.
 */
async function local() {
  const [decisions, incidents, jobs, replay, service] = await Promise.all([
    import('../../advise/decisions.js'),
    import('../../incidents/service.js'),
    import('../../investigate/jobs.js'),
    import('../../investigate/replay.js'),
    import('../../investigate/service.js'),
  ]);
  return {
    decideRecommendation: decisions.decideRecommendation,
    requireIncident: incidents.requireIncident,
    runHandStartedInvestigation: jobs.runHandStartedInvestigation,
    replayInvestigation: replay.replayInvestigation,
    threadCheckpoints: service.threadCheckpoints,
  };
}

export function registerInvestigate(program: Command): void {
  const investigate = program
    .command('investigate')
    .description('run the six-agent investigation on an incident (or `investigate show <id>`)')
    .argument('[incident]', 'incident id')
    .action(async (incidentId: string | undefined, _options: unknown, command: Command) => {
      if (!incidentId) {
        command.help({ error: true });
        return;
      }
      const client = remoteClient(command, { timeoutMs: null });
      const result = client
        ? await client.investigate(incidentId)
        : await withRuntime(command, async (runtime) =>
            (await local()).runHandStartedInvestigation(runtime, incidentId, cliPrincipal()),
          );
      {
        if (globalOptions(command).json) return printJson(result);
        const strategy = result.findings.find((finding) => finding.agent === 'response-strategy')!;
        process.stdout.write(`investigation ${result.investigationId}: ${strategy.summary}\n`);
        printTrust(strategy.data.trust);
        printFindings(result.findings);
        process.stdout.write('\n');
        printRecommendations(result.recommendations);
        process.stdout.write(
          `\n${result.checkpoints} checkpoints on thread ${incidentId}; output hash ${result.outputHash}\n`,
        );
      }
    });

  investigate
    .command('show')
    .argument('<incident>')
    .option('--checkpoints', 'list the LangGraph checkpoints of the incident thread')
    .description('the latest investigation of an incident')
    .action(async (incidentId: string, options: { checkpoints?: boolean }, command: Command) => {
      const client = remoteClient(command);
      if (client && options.checkpoints)
        throw new OpxError(
          'invalid_request',
          '--checkpoints reads the checkpoint store directly: run it without --server',
          { path: 'checkpoints' },
        );
      const { latest, recommendations, checkpoints } = client
        ? await (async () => {
            const [latest] = (await client.investigations(incidentId)).items;
            const recommendations = (await client.recommendations(incidentId)).items.filter(
              (item) => item.investigationId === latest?.id,
            );
            return { latest, recommendations, checkpoints: [] };
          })()
        : await withRuntime(command, async (runtime) => {
            const { requireIncident, threadCheckpoints } = await local();
            await requireIncident(runtime.store, incidentId);
            const [latest] = await runtime.store.investigations.forIncident(incidentId);
            return {
              latest,
              recommendations: await runtime.store.investigations.recommendations(incidentId, latest?.id),
              checkpoints: options.checkpoints ? await threadCheckpoints(runtime, incidentId) : [],
            };
          });
      if (globalOptions(command).json)
        return printJson({ investigation: latest ?? null, recommendations, checkpoints });
      if (!latest) {
        process.stdout.write(
          `incident ${incidentId} has not been investigated; run \`opx investigate ${incidentId}\`\n`,
        );
        return;
      }
      process.stdout.write(
        `investigation ${latest.id} (${latest.status}, attempt ${latest.attempt}) started ${shortTime(latest.startedAt)}\n`,
      );
      if (latest.error) process.stdout.write(`error: ${latest.error}\n`);
      printTrust(latest.findings.find((finding) => finding.agent === 'response-strategy')?.data.trust);
      printFindings(latest.findings);
      process.stdout.write('\n');
      printRecommendations(recommendations);
      if (options.checkpoints) {
        process.stdout.write(`\n${checkpoints.length} checkpoints on thread ${incidentId}\n`);
        printTable(
          ['checkpoint', 'investigation', 'step', 'source'],
          checkpoints.map((item) => [
            item.id,
            String(item.investigationId),
            String(item.step),
            String(item.source),
          ]),
        );
      }
    });

  program
    .command('replay')
    .argument('<incident>')
    .option('--investigation <id>', 'replay this investigation (default: the latest completed one)')
    .description('re-run the agents on a frozen evidence bundle and compare with the recorded output')
    .action(async (incidentId: string, options: { investigation?: string }, command: Command) => {
      const client = remoteClient(command, { timeoutMs: null });
      const result = client
        ? await client.replay(incidentId, options.investigation)
        : await withRuntime(command, async (runtime) =>
            (await local()).replayInvestigation(runtime, incidentId, {
              principal: cliPrincipal(),
              investigationId: options.investigation,
            }),
          );
      if (!result.identical) process.exitCode = 1;
      if (globalOptions(command).json) return printJson(result);
      process.stdout.write(
        `replayed investigation ${result.investigationId} on bundle ${result.bundleId}: ${result.identical ? 'IDENTICAL' : 'DIFFERENT'}\n` +
          `  recorded output hash ${result.storedHash}\n  replayed output hash ${result.replayHash}\n`,
      );
      if (result.differences.length > 0) {
        printTable(
          ['path', 'recorded', 'replayed'],
          result.differences.map((difference) => [
            difference.path,
            clipText(JSON.stringify(difference.stored) ?? 'absent', 50),
            clipText(JSON.stringify(difference.replayed) ?? 'absent', 50),
          ]),
        );
      }
    });

  for (const status of ['approved', 'rejected'] as const) {
    program
      .command(status === 'approved' ? 'approve' : 'reject')
      .argument('<recommendation>')
      .requiredOption('--reason <text>', 'why; recorded with your name on the incident')
      .description(
        status === 'approved'
          ? 'approve a recommendation (records the decision; executes nothing)'
          : 'reject a recommendation',
      )
      .action(async (id: string, options: { reason: string }, command: Command) => {
        const client = remoteClient(command);
        const recommendation = client
          ? (await client.decide(id, status === 'approved' ? 'approve' : 'reject', options.reason))
              .recommendation
          : await withRuntime(command, async (runtime) => {
              const { decideRecommendation } = await local();
              return runtime.writes.run((scope) =>
                decideRecommendation(scope, id, {
                  status,
                  principal: cliPrincipal(),
                  reason: options.reason,
                }),
              );
            });
        if (globalOptions(command).json) return printJson(recommendation);
        process.stdout.write(`${recommendation.id} ${status}: ${recommendation.title}\n`);
      });
  }
}
