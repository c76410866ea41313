// The container's HEALTHCHECK: GET /healthz on this process's own port, exit 0 on 200 and 1 otherwise.
// The slim Node image has no curl; this needs only Node. It reads the same OPX_* settings as opx:
// OPX_PORT (default 8080), and HTTPS when OPX_TLS_CERT_FILE is set (the certificate is not checked:
// the connection goes to localhost). OPX_HEALTHCHECK_URL overrides the whole address.
import http from 'node:http';
import https from 'node:https';

const env = process.env;
const secure = Boolean(env.OPX_TLS_CERT_FILE);
const url = new URL(
  env.OPX_HEALTHCHECK_URL || `${secure ? 'https' : 'http'}://127.0.0.1:${env.OPX_PORT || 8080}/healthz`,
);
const client = url.protocol === 'https:' ? https : http;

const request = client.get(url, { timeout: 4000, rejectUnauthorized: false }, (response) => {
  let body = '';
  response.setEncoding('utf8');
  response.on('data', (chunk) => {
    body += chunk;
  });
  response.on('end', () => {
    process.stdout.write(`${response.statusCode} ${body.slice(0, 200)}\n`);
    process.exit(response.statusCode === 200 ? 0 : 1);
  });
});
request.on('timeout', () => request.destroy(new Error('timed out')));
request.on('error', (error) => {
  process.stdout.write(`unhealthy: ${error.message}\n`);
  process.exit(1);
});
