import { describe, expect, it } from 'vitest';
import { NodeStore } from '../server/features/import/osm-data.ts';

describe('the OSM node store', () => {
  it('finds every node of a large ordered extract, and none that is not there', () => {
    const nodes = new NodeStore();
    for (let i = 0; i < 200_000; i++) nodes.set(i * 3 + 1, 109 + i * 1e-6, 36 + i * 1e-6);
    expect(nodes.get(1)).toEqual([109, 36]);
    expect(nodes.get(3 * 150_000 + 1)).toEqual([109 + 150_000 * 1e-6, 36 + 150_000 * 1e-6]);
    expect(nodes.get(2)).toBeUndefined();
    expect(nodes.get(3 * 200_000 + 1)).toBeUndefined();
  });

  it('still answers when the file lists nodes out of order', () => {
    const nodes = new NodeStore();
    [
      [5, 1, 1],
      [9, 2, 2],
      [7, 3, 3],
      [1, 4, 4],
    ].forEach(([id, lon, lat]) => nodes.set(id, lon, lat));
    expect([5, 9, 7, 1, 3].map((id) => nodes.get(id))).toEqual([[1, 1], [2, 2], [3, 3], [4, 4], undefined]);
  });
});
