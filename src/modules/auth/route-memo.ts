import type { ExecutionContext, Type } from '@nestjs/common';

type Handler = ReturnType<ExecutionContext['getHandler']>;

/**
 * A value worked out once per route (controller class and handler) from its decorator metadata,
 * which does not change once the class is defined: guards read it per request without the
 * reflector look-ups (each walks the handler's and the class's metadata).
 */
export class RouteMemo<T> {
  private readonly byClass = new WeakMap<object, WeakMap<object, T>>();

  constructor(private readonly compute: (handler: Handler, classRef: Type) => T) {}

  get(context: ExecutionContext): T {
    const classRef = context.getClass();
    const handler = context.getHandler();
    let byHandler = this.byClass.get(classRef);
    if (!byHandler) {
      byHandler = new WeakMap();
      this.byClass.set(classRef, byHandler);
    }
    let value = byHandler.get(handler);
    if (value === undefined) {
      value = this.compute(handler, classRef);
      byHandler.set(handler, value);
    }
    return value;
  }
}
