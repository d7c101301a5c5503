/** A real client with one method wrapped (to count or hold its calls); every other member is the client's own. */
export function intercept<T extends object, K extends keyof T>(
  target: T,
  method: K,
  wrap: (real: T[K]) => T[K],
): T {
  const own = target[method];
  const wrapped = wrap(
    (typeof own === 'function' ? (own as (...a: unknown[]) => unknown).bind(target) : own) as T[K],
  );
  return new Proxy(target, {
    get(real, property, receiver) {
      if (property === method) return wrapped;
      const value: unknown = Reflect.get(real, property, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(real) : value;
    },
  });
}
