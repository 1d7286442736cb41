// What every view shares: its event listeners and timers, ended together when the view goes away.

export class View {
  constructor(app) {
    this.app = app;
    this.rpc = app.rpc;
    this.destroyed = false;
    this._cleanups = [];
  }

  /** Listen to server events of `topic` for as long as the view is shown. */
  listen(topic, handler) {
    this._cleanups.push(this.rpc.on(topic, (event) => !this.destroyed && handler(event)));
  }

  /** Run `fn` every `ms` for as long as the view is shown. */
  every(ms, fn) {
    const timer = setInterval(fn, ms);
    this._cleanups.push(() => clearInterval(timer));
  }

  /** Remember a cleanup to run when the view goes away. */
  onDestroy(fn) {
    this._cleanups.push(fn);
  }

  /** Build the view inside `container`; `route` is the first route shown. */
  mount(container, route) {}

  /** Show `route` (same view, maybe another item). */
  route(route) {}

  /** Load everything again (after a reconnect or lost events). */
  refresh() {}

  destroy() {
    this.destroyed = true;
    for (const cleanup of this._cleanups.splice(0)) cleanup();
  }
}
