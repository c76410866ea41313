import { shopBundle } from '../src/investigate/agents/fixtures.test-support.js';
import { EVIDENCE_AGENTS } from '../src/investigate/graph.js';
import { respond } from '../src/investigate/agents/response-strategy.js';
import { groundFinding, groundingContext } from '../src/trust/grounding.js';
const bundle = shopBundle();
const ctx = groundingContext(bundle);
const findings: any = {};
for (const [name, analyze] of Object.entries(EVIDENCE_AGENTS)) findings[name] = (analyze as any)(bundle);
findings['response-strategy'] = respond(bundle, findings);
for (const f of Object.values(findings) as any[]) {
  const g = groundFinding(f, ctx);
  console.log(f.agent, g.score, g.statements, JSON.stringify(g.unsupported.map(u => [u.text.slice(0, 100), u.problems])));
}
