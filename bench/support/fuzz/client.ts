/** A raw HTTP client for fuzz requests: it sends what the generators make, bytes a typed client would refuse to send. */
import http from 'node:http';
import type { FuzzRequest, FuzzResponse } from './routes.js';

export interface Client {
  send(request: FuzzRequest): Promise<FuzzResponse>;
  get(path: string): Promise<FuzzResponse>;
  close(): void;
}

/** A keep-alive HTTP/1.1 client; node:http rather than fetch so odd methods and headers go out as given. */
export function httpClient(baseUrl: string, adminToken: string, sockets = 8): Client {
  const url = new URL(baseUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: sockets });
  /**
   * A keep-alive socket the server closed after its last answer fails the next request before it is
   * sent; Node's advice is to retry exactly that case (req.reusedSocket), and only once.
   */
  const send = async (request: FuzzRequest): Promise<FuzzResponse> => {
    try {
      return await sendOnce(request);
    } catch (error) {
      if ((error as { reusedSocket?: boolean }).reusedSocket) return sendOnce(request);
      throw error;
    }
  };
  const sendOnce = (request: FuzzRequest) =>
    new Promise<FuzzResponse>((resolve, reject) => {
      const outgoing = http.request(
        {
          host: url.hostname,
          port: url.port,
          method: request.method,
          path: request.path,
          // An explicit length: node:http sends a GET or DELETE body unframed otherwise, which the
          // server must read as the start of the next request.
          headers:
            request.body === undefined
              ? request.headers
              : { ...request.headers, 'content-length': String(Buffer.byteLength(request.body)) },
          agent,
        },
        (incoming) => {
          const chunks: Buffer[] = [];
          // An event stream never ends by itself: its first event is the answer.
          const stream = String(incoming.headers['content-type'] ?? '').startsWith('text/event-stream');
          incoming.on('data', (chunk: Buffer) => {
            chunks.push(chunk);
            if (stream) {
              resolve({
                status: incoming.statusCode ?? 0,
                headers: incoming.headers,
                text: Buffer.concat(chunks).toString('utf8'),
              });
              outgoing.destroy();
            }
          });
          incoming.on('end', () =>
            resolve({
              status: incoming.statusCode ?? 0,
              headers: incoming.headers,
              text: Buffer.concat(chunks).toString('utf8'),
            }),
          );
          incoming.on('error', reject);
        },
      );
      outgoing.setTimeout(60_000, () => outgoing.destroy(new Error('no answer within 60 s')));
      outgoing.on('error', (error) =>
        reject(
          Object.assign(error, {
            reusedSocket: outgoing.reusedSocket && (error as NodeJS.ErrnoException).code === 'ECONNRESET',
          }),
        ),
      );
      outgoing.end(request.body);
    });
  return {
    send,
    get: (path) =>
      send({
        route: 'read-back',
        variant: 'read-back',
        method: 'GET',
        path,
        headers: { authorization: `Bearer ${adminToken}` },
      }),
    close: () => agent.destroy(),
  };
}
