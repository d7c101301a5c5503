/**
 * ISO 4217 minor units: how many decimals a currency's minor unit has. `amount_minor` is in minor
 * units (cents for EUR, yen for JPY, fils for BHD), so a legacy decimal amount is scaled by 10^digits
 * of its own currency. Every currency not listed here, including codes ISO 4217 does not know, has 2
 * (the data-quality use case reports unknown codes; they are not a reason to lose a row).
 * Source: the ISO 4217 list (SIX Group), currencies whose minor unit is not 2.
 */
const MINOR_DIGITS: ReadonlyMap<string, number> = new Map([
  ['BIF', 0],
  ['CLP', 0],
  ['DJF', 0],
  ['GNF', 0],
  ['ISK', 0],
  ['JPY', 0],
  ['KMF', 0],
  ['KRW', 0],
  ['PYG', 0],
  ['RWF', 0],
  ['UGX', 0],
  ['UYI', 0],
  ['VND', 0],
  ['VUV', 0],
  ['XAF', 0],
  ['XOF', 0],
  ['XPF', 0],
  ['BHD', 3],
  ['IQD', 3],
  ['JOD', 3],
  ['KWD', 3],
  ['LYD', 3],
  ['OMR', 3],
  ['TND', 3],
  ['CLF', 4],
  ['UYW', 4],
]);

export function minorUnitDigits(currency: string): number {
  return MINOR_DIGITS.get(currency) ?? 2;
}
