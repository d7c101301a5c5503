/**
 * The use cases this build can deploy. To add one: write `my-use-case.ts` next to these (see
 * contract.ts), then add it to this list. `tributary deploy my-use-case` runs it.
 */
import { amountAnomaly } from './amount-anomaly.js';
import type { UseCase } from './contract.js';
import { dataQuality } from './data-quality.js';
import { velocity } from './velocity.js';

export const USE_CASES: readonly UseCase[] = [dataQuality, amountAnomaly, velocity];

export function findUseCase(name: string): UseCase | undefined {
  return USE_CASES.find((useCase) => useCase.name === name);
}

export type { FindingDraft, ProfileReader, UseCase, UseCaseContext, UseCaseState } from './contract.js';
export { numberSetting } from './contract.js';
