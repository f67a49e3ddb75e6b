// Small React hooks: async loading with refresh, actions with busy and error
// state, keyboard shortcuts, debounce.
import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError, toApiError } from '../api/transport';

export interface AsyncState<T> {
  data: T | undefined;
  error: ApiError | undefined;
  loading: boolean;
  reload: () => void;
}

/**
 * Runs `fn` on mount and when `deps` change (and every `intervalMs`, when
 * set, while the page is visible). Keeps the last data while reloading, so
 * polling does not flicker.
 */
export function useAsync<T>(fn: () => Promise<T>, deps: unknown[], intervalMs?: number): AsyncState<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<ApiError>();
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const fnRef = useRef(fn);
  fnRef.current = fn;

  useEffect(() => {
    let live = true;
    setLoading(true);
    fnRef
      .current()
      .then(
        (d) => {
          if (!live) return;
          setData(d);
          setError(undefined);
        },
        (e) => {
          if (live) setError(toApiError(e));
        },
      )
      .finally(() => {
        if (live) setLoading(false);
      });
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);

  useEffect(() => {
    if (!intervalMs) return;
    const id = setInterval(() => {
      if (document.visibilityState === 'visible') setTick((t) => t + 1);
    }, intervalMs);
    return () => clearInterval(id);
  }, [intervalMs]);

  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload };
}

export interface ActionState {
  setBusy: (busy: boolean) => void;
  setError: (error: ApiError | undefined) => void;
  onError?: (error: ApiError) => void;
}

/**
 * One run of an action: busy and no error while `fn` runs, then its failure
 * (as an ApiError) as the error. Resolves either way.
 */
export async function runAction(fn: () => Promise<unknown>, s: ActionState): Promise<void> {
  s.setBusy(true);
  s.setError(undefined);
  try {
    await fn();
  } catch (e) {
    const error = toApiError(e);
    s.setError(error);
    s.onError?.(error);
  } finally {
    s.setBusy(false);
  }
}

export interface Action<A extends unknown[]> {
  /** Runs the action (see runAction); never rejects. */
  run: (...args: A) => Promise<void>;
  busy: boolean;
  error: ApiError | undefined;
  clearError: () => void;
}

/** A user action (save, publish, test…) with its busy and error state. */
export function useAction<A extends unknown[]>(fn: (...args: A) => Promise<unknown>, onError?: (error: ApiError) => void): Action<A> {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();
  return {
    run: (...args: A) => runAction(() => fn(...args), { setBusy, setError, onError }),
    busy,
    error,
    clearError: () => setError(undefined),
  };
}

/** `value`, settled for `ms`. */
export function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const id = setTimeout(() => setV(value), ms);
    return () => clearTimeout(id);
  }, [value, ms]);
  return v;
}

/** True when a key press is meant for a text field, not a shortcut. */
export function typingInto(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  if (!el || !el.tagName) return false;
  const tag = el.tagName.toLowerCase();
  return tag === 'input' || tag === 'textarea' || tag === 'select' || el.isContentEditable;
}

/** A global shortcut (ignored while typing or with modifier keys). */
export function useShortcut(key: string, fn: () => void, enabled = true): void {
  const ref = useRef(fn);
  ref.current = fn;
  useEffect(() => {
    if (!enabled) return;
    const h = (e: KeyboardEvent) => {
      if (e.key !== key || e.ctrlKey || e.metaKey || e.altKey || typingInto(e.target)) return;
      if (document.querySelector('dialog[open]')) return;
      e.preventDefault();
      ref.current();
    };
    window.addEventListener('keydown', h);
    return () => window.removeEventListener('keydown', h);
  }, [key, enabled]);
}

/** The current hash route: `#/providers?x=1` → {page: 'providers', params}. */
export function useHashRoute(): { page: string; params: URLSearchParams } {
  const read = () => {
    const h = window.location.hash.replace(/^#\/?/, '');
    const [page, qs] = h.split('?');
    return { page: page || 'overview', params: new URLSearchParams(qs ?? '') };
  };
  const [r, setR] = useState(read);
  useEffect(() => {
    const h = () => setR(read());
    window.addEventListener('hashchange', h);
    return () => window.removeEventListener('hashchange', h);
  }, []);
  return r;
}

export function navigate(page: string, params?: Record<string, string>): void {
  const qs = params ? new URLSearchParams(params).toString() : '';
  window.location.hash = '#/' + page + (qs ? '?' + qs : '');
}
