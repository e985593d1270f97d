const NUMERALS = '零一二三四五六七八九';
/** 1 → 一, 12 → 十二, 40 → 四十: names stay CJK so the map labels them with the browser's own fonts. */
export function chineseNumeral(n: number): string {
  if (n < 10) return NUMERALS[n];
  if (n < 100) return `${n >= 20 ? NUMERALS[Math.floor(n / 10)] : ''}十${n % 10 ? NUMERALS[n % 10] : ''}`;
  return String(n)
    .split('')
    .map((d) => NUMERALS[Number(d)])
    .join('');
}
