/**
 * A plugin's private scope: its own child container, a provide() limited to
 * its manifest's `provides`, a resolve() limited to what it declared.
 */
import { instanceCachingFactory, type DependencyContainer } from 'tsyringe';
import { KernelTokens, tokenId, type Plugin, type Provider, type ServiceToken } from './contracts.js';
import { KernelError } from './errors.js';

const kernelTokens = new Set<symbol>(Object.values(KernelTokens));

export class PluginScope {
  readonly container: DependencyContainer;

  constructor(
    private readonly plugin: Plugin<unknown>,
    /** The kernel's own root container (never tsyringe's global one). */
    private readonly root: DependencyContainer,
  ) {
    this.container = root.createChildContainer();
  }

  provide<T>(token: ServiceToken<T>, provider: Provider<T>): void {
    const { name, provides } = this.plugin.manifest;
    if (!provides.includes(token)) {
      throw new KernelError(`Plugin '${name}' provides '${tokenId(token)}' but does not declare it in manifest.provides`);
    }
    const child = this.container;
    // Bound in the kernel root so every plugin resolves the same singleton;
    // built in the child so its private dependencies resolve in this scope.
    if ('useValue' in provider) {
      this.root.register(token, { useValue: provider.useValue });
    } else if ('useClass' in provider) {
      const cls = provider.useClass;
      child.registerSingleton(cls);
      this.root.register(token, { useFactory: instanceCachingFactory(() => child.resolve(cls)) });
    } else {
      const factory = provider.useFactory;
      this.root.register(token, { useFactory: instanceCachingFactory(() => factory(child)) });
    }
  }

  resolve<T>(token: ServiceToken<T>): T {
    if (!this.declares(token)) {
      throw new KernelError(
        `Plugin '${this.plugin.manifest.name}' resolves '${tokenId(token)}' without declaring it in requires/optional`,
      );
    }
    if (!this.container.isRegistered(token, true)) {
      throw new KernelError(`Service '${tokenId(token)}' needed by '${this.plugin.manifest.name}' is not bound`);
    }
    return this.container.resolve<T>(token);
  }

  resolveOptional<T>(token: ServiceToken<T>): T | undefined {
    return this.container.isRegistered(token, true) ? this.resolve(token) : undefined;
  }

  private declares(token: symbol): boolean {
    const { provides, requires, optional = [] } = this.plugin.manifest;
    return kernelTokens.has(token) || provides.includes(token) || requires.includes(token) || optional.includes(token);
  }
}
