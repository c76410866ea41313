/** What the pasted token may do: asked once per token (`GET /v1/whoami`), so pages can disable what it may not. */
import { useEffect, useState } from 'react';
import { call, storedToken } from './api';
import type { Session } from './types';

let cached: { token: string | null; answer: Promise<Session> } | undefined;

function session(): Promise<Session> {
  const token = storedToken();
  if (!cached || cached.token !== token) {
    const answer = call((opx) => opx.whoami());
    cached = { token, answer };
    // A failed look-up is asked again next time rather than remembered.
    answer.catch(() => {
      if (cached?.answer === answer) cached = undefined;
    });
  }
  return cached.answer;
}

export type SessionState =
  | { state: 'loading' }
  | { state: 'error'; error: unknown }
  | { state: 'ok'; value: Session };

export function useSession(): SessionState {
  const [state, setState] = useState<SessionState>({ state: 'loading' });
  useEffect(() => {
    let live = true;
    session().then(
      (value) => live && setState({ state: 'ok', value }),
      (error: unknown) => live && setState({ state: 'error', error }),
    );
    return () => {
      live = false;
    };
  }, []);
  return state;
}

/** Why this token lacks `scope`, in words for a disabled control's title; undefined when it has it. */
function lacks(current: SessionState, scope: 'respond' | 'admin'): string | undefined {
  if (current.state === 'loading') return 'checking what this token may do…';
  if (current.state === 'error')
    return 'could not ask the server what this token may do; reload the page to try again';
  const { name, scopes } = current.value;
  if (scopes.includes(scope) || scopes.includes('admin')) return undefined;
  return `needs a token with the ${scope} scope; ${name} has ${scopes.join(', ') || 'no scope'}`;
}

/**
 * Why this token may not respond (approve, reject, move or annotate an incident), in words for a
 * disabled control's title; undefined when it may. `admin` implies `respond`.
 */
export function cannotRespond(current: SessionState): string | undefined {
  return lacks(current, 'respond');
}

/** Why this token may not administer (redrive a notification); undefined when it may. */
export function cannotAdminister(current: SessionState): string | undefined {
  return lacks(current, 'admin');
}
