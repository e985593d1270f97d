import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * The import graph of the server and the demo data, read with the TypeScript compiler (type-only imports
 * count too: a circle of types is still a circle for a reader). The rule is in README.md, "Layers".
 */
const ROOT = join(import.meta.dirname, '..');
const sources = (dir: string): string[] =>
  readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : /\.tsx?$/.test(e.name) ? [join(dir, e.name)] : [],
  );
const files = [...sources('server'), ...sources('data')];
const imports = new Map(
  files.map((file) => [
    file,
    ts
      .preProcessFile(readFileSync(join(ROOT, file), 'utf8'), true, true)
      .importedFiles.map((i) => i.fileName)
      .filter((name) => name.startsWith('.'))
      .map((name) => normalize(join(dirname(file), name))),
  ]),
);

/** Lowest first: a module may import its own layer and those below it. */
const LAYERS = ['server/domain/', 'server/db/', 'server/access/', 'server/features/', 'server/http/'];
/** Settings, the logger and where the checkout is are read by every layer, as the domain's words are. */
const BASE = ['server/config.ts', 'server/logger.ts', 'server/paths.ts'];
const layerOf = (file: string) => {
  if (BASE.includes(file)) return 0;
  const index = LAYERS.findIndex((prefix) => file.startsWith(prefix));
  return index < 0 ? LAYERS.length : index; // the programs (server/*.ts) and the demo data sit on top
};
/** A feature's HTTP adapter: its routes file may use the HTTP layer's helpers (problem mapping, router, origin). */
const isRoutes = (file: string) => /^server\/features\/[^/]+\/routes\.ts$/.test(file);

export function layerViolations(graph: Map<string, string[]>) {
  return [...graph].flatMap(([file, targets]) =>
    targets
      .filter((target) => layerOf(target) > layerOf(file) && !(isRoutes(file) && layerOf(target) === LAYERS.indexOf('server/http/')))
      .map((target) => `${file} -> ${target}`),
  );
}

export function circles(graph: Map<string, string[]>) {
  const found: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const visit = (file: string, path: string[]) => {
    if (state.get(file) === 'done') return;
    if (state.get(file) === 'open') return void found.push([...path.slice(path.indexOf(file)), file].join(' -> '));
    state.set(file, 'open');
    for (const target of graph.get(file) ?? []) visit(target, [...path, file]);
    state.set(file, 'done');
  };
  for (const file of graph.keys()) visit(file, []);
  return found;
}

describe('the import graph', () => {
  it('has every import resolved to a file of the server or the data', () => {
    const missing = [...imports].flatMap(([file, targets]) =>
      targets.filter((t) => !imports.has(t) && !t.startsWith('web/')).map((t) => `${file} -> ${t}`),
    );
    expect(missing).toEqual([]);
  });

  it('points one way: domain <- db <- access <- features <- http <- programs', () => {
    expect(layerViolations(imports)).toEqual([]);
  });

  it('has no circles', () => {
    expect(circles(imports)).toEqual([]);
  });

  it('would catch an upward import and a circle', () => {
    const graph = new Map([
      ['server/db/a.ts', ['server/http/problem.ts']],
      ['server/features/x/service.ts', ['server/http/params.ts', 'server/features/x/queries.ts']],
      ['server/features/x/queries.ts', ['server/features/x/service.ts']],
      ['server/features/x/routes.ts', ['server/http/problem.ts']],
    ]);
    expect(layerViolations(graph)).toEqual([
      'server/db/a.ts -> server/http/problem.ts',
      'server/features/x/service.ts -> server/http/params.ts',
    ]);
    expect(circles(graph)).toEqual(['server/features/x/service.ts -> server/features/x/queries.ts -> server/features/x/service.ts']);
  });
});
