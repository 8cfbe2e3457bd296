// Human units both ways, exactly: amounts are bigints in token units and never pass through floating point on
// the way to a transaction.
import { formatUnits, parseUnits } from "viem";

export const WAD = 10n ** 18n;

/** `amount` token units as "1,234.5678" with at most `places` decimals, or exactly `places` with `fixed`. Rounded
 * down (toward minus infinity, as the CLI's ROUND_FLOOR): what someone holds is never shown above it, and a negative
 * balance (what is owed) is never shown below it; `up` rounds toward plus infinity (ROUND_CEILING), for a debt or a
 * need shown as a positive figure. */
export function formatAmount(amount: bigint, decimals: number, places = 4, fixed = false, up = false): string {
  if (places < decimals) {
    const unit = 10n ** BigInt(decimals - places);
    const remainder = ((amount % unit) + unit) % unit; // of the floor
    let rounded = amount - remainder;
    if (up && remainder !== 0n) rounded += unit;
    amount = rounded;
  }
  const negative = amount < 0n;
  const text = formatUnits(negative ? -amount : amount, decimals);
  const [whole, fraction = ""] = text.split(".");
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const cut = fraction.slice(0, places);
  const kept = fixed ? cut.padEnd(places, "0") : cut.replace(/0+$/, "");
  return (negative ? "-" : "") + grouped + (kept ? `.${kept}` : "");
}

/** A base-unit value as money: "1,234.56 USDC" (`up`: rounded up, for what is owed or needed). */
export function formatMoney(amount: bigint, decimals: number, symbol: string, up = false): string {
  return `${formatAmount(amount, decimals, 2, true, up)} ${symbol}`;
}

/** A USD WAD price: "3,012.50 USD". */
export function formatPrice(wad: bigint): string {
  return `${formatAmount(wad, 18, 2, true)} USD`;
}

/** A plain decimal as people write it: digits with at most one dot. No sign, exponent, hex, comma or other
 * scripts' digits, all of which Number() and parseFloat() would read as something the user did not mean. */
export function isDecimal(text: string): boolean {
  return /^\d*\.?\d+$|^\d+\.$/.test(text.trim());
}

const MAX_UINT256 = 2n ** 256n - 1n;

/** What the user typed, as token units; a clear message for anything that is not a positive amount. A comma is
 * refused, as the CLI refuses it: "1,5" is one and a half to some and fifteen to others. */
export function parseAmount(text: string, decimals: number, symbol: string): bigint {
  const cleaned = text.trim();
  if (cleaned.includes(",")) {
    throw new Error(`"${text}" has a comma: write decimals with a dot and no thousands separators, like 1.5`);
  }
  if (!isDecimal(cleaned)) throw new Error(`"${text}" is not an amount of ${symbol}: write e.g. 1.5`);
  const fraction = cleaned.split(".")[1] ?? "";
  if (fraction.length > decimals) throw new Error(`${symbol} has ${decimals} decimals; "${text}" has more`);
  const amount = parseUnits(cleaned, decimals);
  if (amount === 0n) throw new Error(`the amount must be more than 0 ${symbol}`);
  if (amount > MAX_UINT256) throw new Error(`"${text}" ${symbol} is more than any token can hold`);
  return amount;
}

/** A sub-account id as typed: a whole number 0..255 in digits only (Number() reads "" as 0 and "1e1" as 10); a
 * sentence for anything else. */
export function parseSubAccount(text: string): number {
  const cleaned = text.trim();
  if (cleaned === "") throw new Error("enter a sub-account, a whole number from 0 to 255");
  if (!/^\d{1,3}$/.test(cleaned) || Number(cleaned) > 255) throw new Error(`"${text}" is not a sub-account: write a whole number from 0 to 255`);
  return Number(cleaned);
}
