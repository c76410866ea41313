/**
 * Load balancers and proxies (a deterministic heuristic, docs/agents.md). A proxy in front of a
 * service passes on that service's errors and latency, often more sharply (it counts every request,
 * retries and timeouts included), so when both look anomalous the proxy is the view and the service
 * behind it the origin. Which service is behind it: the services the catalog says it calls; when it
 * declares none (a tracing map shows a load balancer as a leaf its callers reach, beside the service
 * itself), the service sharing a caller with it whose name its own abbreviates (`servi-searc…elb`
 * stands for a search service; `checkout-lb` for `checkout-api`).
 */

/** Catalog types that mark a proxy. */
const PROXY_TYPES = new Set([
  'load-balancer',
  'load_balancer',
  'loadbalancer',
  'lb',
  'proxy',
  'reverse-proxy',
  'ingress',
]);

/** Name words that mark a proxy, and say nothing about what is behind it. */
const PROXY_WORDS = new Set([
  'elb',
  'alb',
  'nlb',
  'clb',
  'lb',
  'loadbalancer',
  'balancer',
  'proxy',
  'ingress',
  'envoy',
  'nginx',
  'haproxy',
  'traefik',
]);

/** Words that name no service in particular; a fragment of one matches nothing either. */
const GENERIC = [
  'service',
  'services',
  'server',
  'svc',
  'api',
  'app',
  'web',
  'http',
  'https',
  'internal',
  'public',
  'prod',
  'production',
  'staging',
  'default',
  'remote',
  'client',
];

/** Lower-case words of a name: split at punctuation and at camelCase humps (`PetSearch` → pet, search). */
export function nameWords(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((word) => word.length > 0);
}

/** nameWords, and each part between punctuation whole (`PetSite` → pet, site, petsite). */
function serviceWords(name: string): string[] {
  const whole = name
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((word) => word.length > 0);
  return [...new Set([...nameWords(name), ...whole])];
}

export function isProxy(name: string, type?: string | null): boolean {
  if (type && PROXY_TYPES.has(type.toLowerCase())) return true;
  return nameWords(name).some((word) => PROXY_WORDS.has(word));
}

/**
 * The words of a proxy's name that may name what is behind it: of a host name, its first label only
 * (`servi-searc.us-west-2.elb.amazonaws.com` → servi, searc); at least four letters, not a proxy
 * word, and not a generic word or a fragment of one (`servi`).
 */
function distinctiveWords(name: string): string[] {
  const label = name.includes('.') ? name.slice(0, name.indexOf('.')) : name;
  return nameWords(label).filter(
    (word) =>
      word.length >= 4 &&
      !/^\d+$/.test(word) &&
      !PROXY_WORDS.has(word) &&
      !GENERIC.some((generic) => generic.startsWith(word)),
  );
}

/** Whether `proxy`'s name abbreviates `service`'s: one of its distinctive words begins one of the service's words. */
export function abbreviates(proxy: string, service: string): boolean {
  const words = serviceWords(service);
  return distinctiveWords(proxy).some((fragment) => words.some((word) => word.startsWith(fragment)));
}

/**
 * The services behind a proxy: those it depends on, or, when it declares none, those that share a
 * caller with it and whose name its name abbreviates.
 */
export function servicesBehind(
  proxy: string,
  dependsOn: ReadonlyMap<string, readonly string[]>,
  callers: ReadonlyMap<string, readonly string[]>,
): string[] {
  const declared = (dependsOn.get(proxy) ?? []).filter((name) => name !== proxy);
  if (declared.length > 0) return [...new Set(declared)].sort();
  const siblings = new Set<string>();
  for (const caller of callers.get(proxy) ?? [])
    for (const sibling of dependsOn.get(caller) ?? []) if (sibling !== proxy) siblings.add(sibling);
  return [...siblings].filter((sibling) => abbreviates(proxy, sibling)).sort();
}
