import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { OpxError } from '../../domain/errors.js';
import { signalStatusSchema } from '../../domain/signal.js';
import type { Runtime } from '../../runtime.js';
import { nameParams, parseInput } from '../http.js';
import { presentDetection, presentSignal } from '../present.js';
import type { SignalDetail, SignalList } from '../schemas.js';

export const signalsQuery = z.strictObject({
  service: z.string().min(1).max(200).optional(),
  status: signalStatusSchema.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

/** The stored signals, newest first, and one signal with the detections it took part in; times as ISO-8601. */
export function registerSignalRoutes(app: FastifyInstance, runtime: Runtime): void {
  const { store } = runtime;
  const read = { config: { scope: 'read' as const } };

  app.get('/v1/signals', read, async (request): Promise<SignalList> => {
    const query = parseInput(signalsQuery, request.query, 'query');
    return { items: (await store.signals.list(query)).map(presentSignal) };
  });
  app.get('/v1/signals/:id', read, async (request): Promise<SignalDetail> => {
    const { id } = parseInput(nameParams, request.params, 'params');
    const signal = await store.signals.get(id);
    if (!signal) throw new OpxError('not_found', `no signal ${id}`, { path: 'id' });
    const detections = await store.detections.forSignal(id);
    return { signal: presentSignal(signal), detections: detections.map(presentDetection) };
  });
}
