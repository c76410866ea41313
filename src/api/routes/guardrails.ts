import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { checkText } from '../../guardrails/check.js';
import { parseInput } from '../http.js';

export const checkBody = z.strictObject({ text: z.string().max(1024 * 1024) });

export function registerGuardrailRoutes(app: FastifyInstance): void {
  // Read scope: it stores nothing and answers only about the text it was given.
  app.post('/v1/guardrails/check', { config: { scope: 'read' as const } }, async (request) => {
    const { text } = parseInput(checkBody, request.body ?? {});
    return checkText(text);
  });
}
