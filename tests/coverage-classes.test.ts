import { describe, expect, it } from 'vitest';
import { classify, classLabel, fillColour, formatValue } from '../web/src/features/coverage/metrics.ts';

const RAMP = ['#d7191c', '#fdae61', '#fee08b', '#a6d96a', '#1a9641'];

/** The class a figure as the table writes it falls in, by the legend's words alone ("< a", "a – b", "≥ a", "a"). */
function classByLabel(labels: string[], written: string): number[] {
  const number = (text: string) => Number(text.replace('%', ''));
  const value = number(written);
  return labels.flatMap((label, i) => {
    const [, op, a, b] = /^(<|≥)? ?([\d.]+%?)(?: – ([\d.]+%?))?$/.exec(label)!;
    const holds =
      op === '<' ? value < number(a) : op === '≥' ? value >= number(a) : b ? value >= number(a) && value <= number(b) : value === number(a);
    return holds ? [i] : [];
  });
}

/**
 * The colour a fill expression gives a feature whose property `v` is `value`: the few MapLibre expressions
 * it uses, evaluated as MapLibre does (its `round` takes halves away from zero).
 */
function colourOf(expression: unknown, value: number | null): string {
  const evaluate = (e: unknown): unknown => {
    if (!Array.isArray(e)) return e;
    const [op, ...args] = e as [string, ...unknown[]];
    const n = (i: number) => evaluate(args[i]) as number;
    switch (op) {
      case 'get':
        return value;
      case 'typeof':
        return value === null ? 'null' : typeof evaluate(args[0]);
      case '==':
        return evaluate(args[0]) === evaluate(args[1]);
      case 'case':
        return evaluate(args[0]) ? evaluate(args[1]) : evaluate(args[2]);
      case '*':
        return n(0) * n(1);
      case '/':
        return n(0) / n(1);
      case 'round':
        return n(0) < 0 ? -Math.round(-n(0)) : Math.round(n(0));
      case 'step': {
        const input = n(0);
        let output = args[1];
        for (let i = 2; i < args.length; i += 2) if (input >= (args[i] as number)) output = args[i + 1];
        return output;
      }
      default:
        throw new Error(`no ${op} here`);
    }
  };
  return evaluate(expression) as string;
}

describe('the coverage legend’s classes', () => {
  // the closure rates the reviewer found misplaced: 22.58 % written 22.6 %, drawn in the class "23% – 28%"
  const rates = [0.1667, 0.2222, 0.2258, 0.24, 0.28, 0.2826, 0.3182];

  it('class each rate as the table writes it, and every label holds the figures of its class and no other', () => {
    const classes = classify(rates, 'percent', RAMP);
    const labels = classes.map((_, i) => classLabel('percent', classes, i));
    expect(labels).toEqual(['< 20%', '20% – 22.5%', '22.6% – 27.9%', '28% – 28.2%', '≥ 28.3%']);
    const colour = fillColour('v', classes, 'percent');
    for (const rate of rates) {
      const written = formatValue('percent', rate);
      const [labelled] = classByLabel(labels, written);
      expect(classByLabel(labels, written), written).toHaveLength(1);
      expect(colourOf(colour, rate), written).toBe(classes[labelled].colour);
    }
    expect(colourOf(colour, null)).toBe('#bdbdbd');
  });

  it('puts no break between figures that read the same, however close their raw values', () => {
    // 22.56 % and 22.6 % both read 22.6 %; 39.96 % and 40.04 % both read 40.0 %
    const classes = classify([0.2256, 0.226, 0.3996, 0.4004, 0.5], 'percent', RAMP);
    expect(classes.map((c) => [c.from, c.to])).toEqual([
      [0.226, 0.4],
      [0.4, 0.5],
      [0.5, 0.5],
    ]);
    expect(classes.map((_, i) => classLabel('percent', classes, i))).toEqual(['< 40%', '40% – 49.9%', '≥ 50%']);
  });

  it('breaks at the roundest number above the lower figure and up to the higher one, in the unit’s own steps', () => {
    expect(classify([300, 394, 413, 449, 486], 'households', RAMP).map((c) => c.from)).toEqual([300, 390, 400, 440, 480]);
    expect(classify([4.04, 4.06, 5.5, 9.96, 12], 'per100', RAMP).map((c) => c.from)).toEqual([4, 4.1, 5, 10, 12]);
    const days = classify([1.25, 1.3, 1.34, 2], 'days', RAMP);
    // 1.25 and 1.3 read 1.3, as does 1.34: one class for the three
    expect(days.map((c) => [c.from, c.to])).toEqual([
      [1.3, 2],
      [2, 2],
    ]);
    expect(days.map((_, i) => classLabel('days', days, i))).toEqual(['< 2', '≥ 2']);
  });

  it('keeps a lone different figure out of a run of equal ones', () => {
    const classes = classify([...Array(9).fill(0.5), 0.9], 'percent', RAMP);
    expect(classes.map((c) => [c.from, c.to])).toEqual([
      [0.5, 0.9],
      [0.9, 0.9],
    ]);
  });

  it('colours a rate every area shares by where it sits, anything else shared in the middle', () => {
    expect(classify([1, 1, 1], 'percent', RAMP)).toEqual([{ colour: '#1a9641', from: 1, to: 1 }]);
    expect(classify([0, 0], 'percent', RAMP)[0].colour).toBe('#d7191c');
    expect(classify([0.5], 'percent', RAMP)[0].colour).toBe('#fee08b');
    expect(classify([420, 420], 'households', [...RAMP].reverse())[0].colour).toBe('#fee08b');
    expect(classLabel('percent', classify([1, 1], 'percent', RAMP), 0)).toBe('100%');
  });

  it('writes figures at the precision the classes use', () => {
    expect(formatValue('percent', 0.22583)).toBe('22.6%');
    expect(formatValue('percent', 0.23)).toBe('23.0%');
    expect(formatValue('per100', 4.049)).toBe('4.0');
    expect(formatValue('households', 412.6)).toBe('413');
    expect(formatValue('days', null)).toBe('—');
  });
});
