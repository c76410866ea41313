import type { FastifyInstance } from 'fastify';
import type { WhoAmI } from '../schemas.js';

/** Who the caller is: the console asks once, to disable what its token may not do. */
export function registerSessionRoutes(app: FastifyInstance): void {
  app.get(
    '/v1/whoami',
    { config: { scope: 'read' as const } },
    async (request): Promise<WhoAmI> => ({
      name: request.principal.name,
      scopes: [...request.principal.scopes],
    }),
  );
}
