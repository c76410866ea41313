import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engineFindingOf, type StandInModel, startStandInModel } from './stand-in.js';

const PROMPT = `ENGINE FINDING (deterministic analysis; confidence 0.62)
summary: deploy chg_1 on auth-service is the likely culprit.
- deploy chg_1 started 5 minutes before the first alert [chg_1, sig_2]
- auth-service is upstream of api-gateway [service:auth-service]

EVIDENCE
inc_1: incident "x" SEV2`;

describe('stand-in model', () => {
  let model: StandInModel;
  beforeAll(async () => {
    model = await startStandInModel();
  });
  afterAll(() => model.close());

  it('reads the engine finding an agent prompt carries', () => {
    expect(engineFindingOf(PROMPT)).toEqual({
      summary: 'deploy chg_1 on auth-service is the likely culprit.',
      confidence: 0.62,
      insufficientEvidence: false,
      claims: [
        {
          text: 'deploy chg_1 started 5 minutes before the first alert',
          evidenceIds: ['chg_1', 'sig_2'],
          confidence: 0.62,
        },
        {
          text: 'auth-service is upstream of api-gateway',
          evidenceIds: ['service:auth-service'],
          confidence: 0.62,
        },
      ],
    });
    expect(
      engineFindingOf(
        'ENGINE FINDING (deterministic analysis; confidence 0.1, insufficient evidence)\nsummary: thin\n',
      ),
    ).toMatchObject({ insufficientEvidence: true, claims: [] });
    expect(engineFindingOf('hello')).toBeUndefined();
  });

  it('answers chat completions with that finding as JSON and o200k_base token counts', async () => {
    const response = await fetch(`${model.url}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4.1-mini', messages: [{ role: 'user', content: PROMPT }] }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      model: string;
      choices: { message: { content: string } }[];
      usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
    };
    expect(body.model).toBe('gpt-4.1-mini');
    expect(JSON.parse(body.choices[0]!.message.content)).toEqual(engineFindingOf(PROMPT));
    expect(body.usage.prompt_tokens).toBeGreaterThan(40);
    expect(body.usage.prompt_tokens).toBeLessThan(PROMPT.length / 2);
    expect(body.usage.total_tokens).toBe(body.usage.prompt_tokens + body.usage.completion_tokens);
    expect(model.exchanges.at(-1)).toEqual({
      promptTokens: body.usage.prompt_tokens,
      answerTokens: body.usage.completion_tokens,
    });
  });

  it('refuses what it cannot answer, in the OpenAI error format', async () => {
    const post = (body: string) =>
      fetch(`${model.url}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
    const notJson = await post('{');
    expect(notJson.status).toBe(400);
    expect(await notJson.json()).toMatchObject({
      error: { type: 'invalid_request_error', message: /not JSON/ },
    });
    expect((await post(JSON.stringify({ messages: [] }))).status).toBe(400);
    const other = await post(JSON.stringify({ messages: [{ role: 'user', content: 'write a poem' }] }));
    expect(other.status).toBe(400);
    expect(((await other.json()) as { error: { message: string } }).error.message).toMatch(
      /only answers OPX agent prompts/,
    );
    expect((await fetch(`${model.url}/embeddings`, { method: 'POST', body: '{}' })).status).toBe(404);
    expect((await fetch(`${model.url}/models`)).status).toBe(200);
  });
});
