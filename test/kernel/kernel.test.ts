import 'reflect-metadata';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { container as globalContainer, inject, injectable } from 'tsyringe';
import {
  ConfigError,
  createToken,
  definePlugin,
  OperationError,
  type ConfigStore,
  type Logger,
  type Plugin,
  type Principal,
} from '../../kernel/index.js';
import { Kernel, KernelStartupError } from '../../kernel/kernel.js';
import { openConfigStore } from '../../kernel/config/index.js';

const silent: Logger = {
  error() {},
  warn() {},
  info() {},
  debug() {},
  child() {
    return silent;
  },
};

interface Greeter {
  greet(name: string): string;
}
const Greeter = createToken<Greeter>('test.greeter');
interface Counter {
  next(): number;
}
const Counter = createToken<Counter>('test.counter');

let root: string;
let config: ConfigStore;
before(async () => {
  root = mkdtempSync(join(tmpdir(), 'plexus-kernel-'));
  config = await openConfigStore({ rootPath: root });
});
after(() => rmSync(root, { recursive: true, force: true }));

const newKernel = (plugins: Plugin<unknown>[]) =>
  new Kernel({ plugins, config, logger: silent, info: { version: 'test', rootPath: root, announce() {} } });

/** A plugin that records its lifecycle into `events`. */
function recorder(
  name: string,
  events: string[],
  manifest: { provides?: symbol[]; requires?: symbol[]; optional?: symbol[] } = {},
  failOn?: 'start' | 'ready',
): Plugin<unknown> {
  return definePlugin({
    manifest: {
      name,
      version: '1.0.0',
      provides: (manifest.provides ?? []) as never,
      requires: (manifest.requires ?? []) as never,
      optional: (manifest.optional ?? []) as never,
    },
    register(ctx) {
      for (const token of manifest.provides ?? []) ctx.provide(token as never, { useValue: { name } });
      events.push(`register:${name}`);
      ctx.lifecycle.onStart(() => {
        events.push(`start:${name}`);
        if (failOn === 'start') throw new Error(`${name} refuses to start`);
      });
      ctx.lifecycle.onReady(() => {
        events.push(`ready:${name}`);
        if (failOn === 'ready') throw new Error(`${name} refuses to be ready`);
      });
      ctx.lifecycle.onStop(() => {
        events.push(`stop:${name}`);
      });
    },
  });
}

describe('kernel lifecycle', () => {
  it('starts providers before consumers and stops in reverse order, once', async () => {
    const events: string[] = [];
    const kernel = newKernel([
      recorder('api', events, { requires: [Greeter, Counter] }),
      recorder('greeter', events, { provides: [Greeter], requires: [Counter] }),
      recorder('counter', events, { provides: [Counter] }),
      recorder('extra', events, { optional: [Greeter] }),
    ]);
    await kernel.start();
    assert.deepEqual(
      events.filter((e) => e.startsWith('start:')),
      ['start:counter', 'start:greeter', 'start:api', 'start:extra'],
    );
    assert.deepEqual(
      events.filter((e) => e.startsWith('ready:')),
      ['ready:counter', 'ready:greeter', 'ready:api', 'ready:extra'],
    );
    await Promise.all([kernel.stop(), kernel.stop()]);
    await kernel.stop();
    assert.deepEqual(
      events.filter((e) => e.startsWith('stop:')),
      ['stop:extra', 'stop:api', 'stop:greeter', 'stop:counter'],
    );
  });

  it('rejects a missing provider before registering anything', async () => {
    const events: string[] = [];
    const kernel = newKernel([recorder('api', events, { requires: [Greeter] })]);
    await assert.rejects(kernel.start(), (error: Error) => {
      assert.ok(error instanceof KernelStartupError);
      assert.match(error.message, /Plugin 'api' requires 'test\.greeter', which no enabled plugin provides/);
      return true;
    });
    assert.deepEqual(events, []);
  });

  it('rejects a duplicate provider naming both plugins', async () => {
    const events: string[] = [];
    const kernel = newKernel([
      recorder('one', events, { provides: [Greeter] }),
      recorder('two', events, { provides: [Greeter] }),
    ]);
    await assert.rejects(kernel.start(), /Service 'test\.greeter' is provided by both 'one' and 'two'/);
    assert.deepEqual(events, []);
  });

  it('rejects a cycle and prints its path', async () => {
    const events: string[] = [];
    const kernel = newKernel([
      recorder('a', events, { provides: [Greeter], requires: [Counter] }),
      recorder('b', events, { provides: [Counter], requires: [Greeter] }),
    ]);
    await assert.rejects(
      kernel.start(),
      /Plugin dependency cycle: 'a' -\(test\.counter\)-> 'b' -\(test\.greeter\)-> 'a'/,
    );
    assert.deepEqual(events, []);
  });

  it('stops every plugin that began starting when a start fails, in reverse, exactly once', async () => {
    const events: string[] = [];
    const kernel = newKernel([
      recorder('counter', events, { provides: [Counter] }),
      recorder('greeter', events, { provides: [Greeter], requires: [Counter] }, 'start'),
      recorder('api', events, { requires: [Greeter] }),
    ]);
    await assert.rejects(kernel.start(), /Plugin 'greeter' failed to start: greeter refuses to start/);
    await kernel.stop();
    assert.deepEqual(events.filter((e) => !e.startsWith('register:')), [
      'start:counter',
      'start:greeter',
      'stop:greeter',
      'stop:counter',
    ]);
  });

  it('stops everything when a ready hook fails', async () => {
    const events: string[] = [];
    const kernel = newKernel([recorder('one', events), recorder('two', events, {}, 'ready')]);
    await assert.rejects(kernel.start(), /Plugin 'two' failed to ready: two refuses to be ready/);
    assert.deepEqual(events.filter((e) => e.startsWith('stop:')), ['stop:two', 'stop:one']);
  });

  it('collects config errors from every plugin before registering any', async () => {
    const events: string[] = [];
    const bad = (name: string, key: string) =>
      definePlugin({
        manifest: { name, version: '1.0.0', provides: [], requires: [] },
        config: () => {
          throw new ConfigError(key, 'must be a number');
        },
        register() {
          events.push(`register:${name}`);
        },
      });
    const kernel = newKernel([bad('x', 'x.port'), bad('y', 'y.size')]);
    await assert.rejects(kernel.start(), (error: Error) => {
      assert.match(error.message, /plugin 'x': Invalid configuration 'x\.port': must be a number/);
      assert.match(error.message, /plugin 'y': Invalid configuration 'y\.size'/);
      return true;
    });
    assert.deepEqual(events, []);
  });
});

describe('status sections', () => {
  const section = (name: string, sections: Record<string, () => unknown>) =>
    definePlugin({
      manifest: { name, version: '1.0.0', provides: [], requires: [] },
      register(ctx) {
        for (const [key, provider] of Object.entries(sections)) ctx.statusSection(key, provider);
      },
    });

  it('collects each plugin\'s section in order; a failing one shows its error, undefined leaves it out', async () => {
    const kernel = newKernel([
      section('a', { alpha: () => ({ up: true }), hidden: () => undefined }),
      section('b', { broken: () => Promise.reject(new Error('no peers table')), beta: async () => [1, 2] }),
    ]);
    await kernel.start();
    try {
      const status = await kernel.status();
      assert.deepEqual(status, { alpha: { up: true }, broken: { error: 'no peers table' }, beta: [1, 2] });
      assert.deepEqual(Object.keys(status), ['alpha', 'broken', 'beta']);
    } finally {
      await kernel.stop();
    }
  });

  it('a section another plugin added, or the node\'s own `plexus`, fails start-up naming both', async () => {
    await assert.rejects(newKernel([section('a', { alpha: () => 1 }), section('b', { alpha: () => 2 })]).start(), (error: Error) => {
      assert.match(String((error as { cause?: Error }).cause?.message ?? error.message), /Plugin 'b' adds status section 'alpha', which plugin 'a' already added/);
      return true;
    });
    await assert.rejects(newKernel([section('a', { plexus: () => 1 })]).start(), (error: Error) => {
      assert.match(String((error as { cause?: Error }).cause?.message ?? error.message), /status section 'plexus', which is the node's own/);
      return true;
    });
  });
});

describe('plugin scopes', () => {
  it('shares one singleton across plugins, built in the provider scope, never in the global container', async () => {
    let built = 0;
    @injectable()
    class CounterImpl implements Counter {
      private n = 0;
      constructor() {
        built++;
      }
      next() {
        return ++this.n;
      }
    }
    @injectable()
    class GreeterImpl implements Greeter {
      constructor(@inject(Counter) private readonly counter: Counter) {}
      greet(name: string) {
        return `hello ${name} #${this.counter.next()}`;
      }
    }
    const seen: string[] = [];
    const kernel = newKernel([
      definePlugin({
        manifest: { name: 'counter', version: '1', provides: [Counter], requires: [] },
        register: (ctx) => ctx.provide(Counter, { useClass: CounterImpl }),
      }),
      definePlugin({
        manifest: { name: 'greeter', version: '1', provides: [Greeter], requires: [Counter] },
        register: (ctx) => ctx.provide(Greeter, { useClass: GreeterImpl }),
      }),
      definePlugin({
        manifest: { name: 'user', version: '1', provides: [], requires: [Greeter, Counter] },
        register(ctx) {
          ctx.lifecycle.onStart(() => {
            seen.push(ctx.resolve(Greeter).greet('a'), ctx.resolve(Greeter).greet('b'));
            seen.push(String(ctx.resolve(Counter).next()));
          });
        },
      }),
    ]);
    await kernel.start();
    assert.deepEqual(seen, ['hello a #1', 'hello b #2', '3']);
    assert.equal(built, 1);
    assert.equal(globalContainer.isRegistered(Greeter, true), false);
    assert.equal(globalContainer.isRegistered(Counter, true), false);
    await kernel.stop();
  });

  it('refuses to provide or resolve undeclared tokens', async () => {
    const providing = newKernel([
      definePlugin({
        manifest: { name: 'sneaky', version: '1', provides: [], requires: [] },
        register: (ctx) => ctx.provide(Greeter, { useValue: { greet: () => '' } }),
      }),
    ]);
    await assert.rejects(providing.start(), /Plugin 'sneaky' provides 'test\.greeter' but does not declare it/);
    const resolving = newKernel([
      definePlugin({
        manifest: { name: 'greeter', version: '1', provides: [Greeter], requires: [] },
        register: (ctx) => ctx.provide(Greeter, { useValue: { greet: () => '' } }),
      }),
      definePlugin({
        manifest: { name: 'nosy', version: '1', provides: [], requires: [] },
        register: (ctx) => ctx.lifecycle.onStart(() => void ctx.resolve(Greeter)),
      }),
    ]);
    await assert.rejects(resolving.start(), /'nosy' resolves 'test\.greeter' without declaring it/);
  });
});

describe('operation registry', () => {
  const admin: Principal = { username: 'admin', role: 'super_user', superUser: true, clusterUser: false, permission: {} };
  const reader: Principal = { username: 'bob', role: 'reader', superUser: false, clusterUser: false, permission: {} };

  it('validates input, enforces super_user and lets plugins invoke in-process', async () => {
    const kernel = newKernel([
      definePlugin({
        manifest: { name: 'ops', version: '1', provides: [], requires: [] },
        register(ctx) {
          ctx.operations.register<{ n: number }, number>({
            name: 'double',
            aliases: ['twice'],
            permission: 'authenticated',
            input: (body) => {
              if (typeof body.n !== 'number') throw new OperationError(400, "'n' must be a number");
              return { n: body.n };
            },
            handler: ({ n }) => n * 2,
          });
          ctx.operations.register({ name: 'reset_all', permission: 'super_user', handler: () => 'done' });
        },
      }),
      definePlugin({
        manifest: { name: 'caller', version: '1', provides: [], requires: [] },
        register(ctx) {
          ctx.lifecycle.onReady(async () => {
            assert.equal(await ctx.operations.invoke('twice', { n: 4 }, { caller: 'caller' }), 8);
          });
        },
      }),
    ]);
    await kernel.start();
    const ops = kernel.operations;
    assert.equal(await ops.invoke('double', { n: 21 }, { principal: reader, caller: 'test' }), 42);
    await assert.rejects(ops.invoke('double', { n: 'x' }, { principal: reader, caller: 'test' }), {
      status: 400,
      message: "'n' must be a number",
    });
    await assert.rejects(ops.invoke('reset_all', {}, { principal: reader, caller: 'test' }), (error: OperationError) => {
      assert.equal(error.status, 403);
      assert.deepEqual(error.body.unauthorized_access, ["Operation 'reset_all' is restricted to 'super_user' roles"]);
      return true;
    });
    assert.equal(await ops.invoke('reset_all', {}, { principal: admin, caller: 'test' }), 'done');
    await assert.rejects(ops.invoke('make_coffee', {}, { principal: admin, caller: 'test' }), {
      status: 400,
      message: "Operation 'make_coffee' not found",
    });
    assert.deepEqual(ops.names(), ['double', 'reset_all', 'twice']);
    await kernel.stop();
  });

  it('rejects two plugins registering one operation name, naming both', async () => {
    const op = (name: string) =>
      definePlugin({
        manifest: { name, version: '1', provides: [], requires: [] },
        register: (ctx) => ctx.operations.register({ name: 'insert', permission: 'authenticated', handler: () => 1 }),
      });
    await assert.rejects(
      newKernel([op('first'), op('second')]).start(),
      /Operation 'insert' is registered by both 'first' and 'second'/,
    );
  });
});
