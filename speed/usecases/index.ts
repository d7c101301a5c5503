/**
 * The use cases this build can deploy. To add one: write `my-use-case.ts` next to these (see
 * contract.ts), then add it to BUILT_IN below. `tributary deploy my-use-case` runs it.
 *
 * Use cases can also live outside the code base (a data scientist's module): list their compiled
 * ES module files in USECASE_MODULES (comma-separated paths); each default-exports a UseCase.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { TributaryError } from '../../core/errors.js';
import { amountAnomaly } from './amount-anomaly.js';
import type { UseCase } from './contract.js';
import { dataQuality } from './data-quality.js';
import { velocity } from './velocity.js';

const BUILT_IN: readonly UseCase[] = [dataQuality, amountAnomaly, velocity];

const registry = new Map<string, UseCase>(BUILT_IN.map((useCase) => [useCase.name, useCase]));

export const USE_CASES: readonly UseCase[] = BUILT_IN;

export function findUseCase(name: string): UseCase | undefined {
  return registry.get(name);
}

export function allUseCases(): UseCase[] {
  return [...registry.values()];
}

/** Why `variant` is not one of `useCase`'s, naming those it has; undefined when it is one. */
export function unknownVariant(useCase: UseCase, variant: string): string | undefined {
  if (useCase.variants.includes(variant)) return undefined;
  // A use case without variants has the one variant '', which no command line shows as such.
  const label = (v: string): string => (v === '' ? '(none)' : v);
  return `${useCase.name} has no variant ${label(variant)} (known: ${useCase.variants.map(label).join(', ')})`;
}

function isUseCase(value: unknown): value is UseCase {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.name === 'string' &&
    /^[a-z][a-z0-9-]{0,62}$/.test(v.name) &&
    Array.isArray(v.variants) &&
    v.variants.every((x) => typeof x === 'string') &&
    typeof v.needsProfile === 'boolean' &&
    typeof v.process === 'function'
  );
}

/**
 * Loads and registers the use-case modules named in USECASE_MODULES. With `onError`, a module that
 * cannot be loaded is told to it and the others are still loaded; without, the first one throws.
 */
export async function loadUseCaseModules(
  paths: readonly string[],
  onError?: (file: string, error: unknown) => void,
): Promise<void> {
  for (const file of paths) {
    try {
      await loadUseCaseModule(file);
    } catch (error) {
      if (onError === undefined) throw error;
      onError(file, error);
    }
  }
}

async function loadUseCaseModule(file: string): Promise<void> {
  const module = (await import(pathToFileURL(path.resolve(file)).href)) as { default?: unknown };
  const useCase = module.default;
  if (!isUseCase(useCase)) {
    throw new TributaryError(
      'BAD_REQUEST',
      `${file} must default-export a use case: { name, description, variants, needsProfile, process }`,
    );
  }
  if (BUILT_IN.some((u) => u.name === useCase.name)) {
    throw new TributaryError('CONFLICT', `${file}: a built-in use case is already named ${useCase.name}`);
  }
  registry.set(useCase.name, useCase);
}

export type { FindingDraft, ProfileReader, UseCase, UseCaseContext, UseCaseState } from './contract.js';
export { numberSetting } from './contract.js';
