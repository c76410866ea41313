import { describe, expect, it } from 'vitest';
import { abbreviates, isProxy, nameWords, servicesBehind } from './proxy.js';

describe('proxies', () => {
  it('splits names at punctuation and camelCase humps', () => {
    expect(nameWords('PetSearch_AWS::ECS::Fargate')).toEqual(['pet', 'search', 'aws', 'ecs', 'fargate']);
  });

  it('knows a proxy by its catalog type or a word of its name', () => {
    expect(isProxy('edge', 'load-balancer')).toBe(true);
    expect(isProxy('servi-searc.us-west-2.elb.amazonaws.com_remote')).toBe(true);
    expect(isProxy('checkout-envoy')).toBe(true);
    expect(isProxy('checkout-api')).toBe(false);
    expect(isProxy('PetAdoptionStatusUpdater/prod_AWS::ApiGateway::Stage')).toBe(false);
  });

  it('reads the first label of a host name; generic words and their fragments name nothing', () => {
    expect(abbreviates('servi-searc.us-west-2.elb.amazonaws.com_remote', 'PetSearch_AWS::ECS::Fargate')).toBe(
      true,
    );
    expect(abbreviates('servi-petsi.us-west-2.elb.amazonaws.com_remote', 'PetSite')).toBe(true);
    // "servi" is a fragment of "service": it does not tie the search balancer to a notification service.
    expect(abbreviates('servi-searc.us-west-2.elb.amazonaws.com_remote', 'SimpleNotificationService')).toBe(
      false,
    );
    // Words past the first label (the region, the provider's domain) name nothing.
    expect(abbreviates('servi-searc.us-west-2.elb.amazonaws.com_remote', 'west-gateway')).toBe(false);
    expect(abbreviates('checkout-lb', 'checkout-api')).toBe(true);
  });

  it('takes what the catalog says is behind a proxy, else the siblings its name abbreviates', () => {
    const dependsOn = new Map([
      ['web', ['search-lb', 'search-api', 'cart']],
      ['edge', ['orders']],
    ]);
    const callers = new Map([
      ['search-lb', ['web']],
      ['search-api', ['web']],
      ['cart', ['web']],
      ['orders', ['edge']],
    ]);
    expect(servicesBehind('search-lb', dependsOn, callers)).toEqual(['search-api']);
    expect(servicesBehind('edge', dependsOn, callers)).toEqual(['orders']);
    expect(servicesBehind('nobody-lb', dependsOn, callers)).toEqual([]);
  });
});
