import { ACCESS_KEY_PARAMETER, type Viewer } from '../../access/viewer.ts';
import type { CollectionAnswer, Link } from './answers.ts';
import type { Collection, Queryable } from './collections.ts';
import type { Sketch } from './queries.ts';

/** HTML pages of /ogc for people in a browser: the same documents, readable, linked, with a sketch of the features. */

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escape = (value: unknown) => String(value ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c]);

/** A template whose interpolations are escaped, unless they are markup made by `html` themselves. */
class Markup {
  constructor(readonly text: string) {}
  toString() {
    return this.text;
  }
}
function html(strings: TemplateStringsArray, ...values: unknown[]): Markup {
  const part = (v: unknown): string => (v instanceof Markup ? v.text : Array.isArray(v) ? v.map(part).join('') : escape(v));
  return new Markup(strings.reduce((out, s, i) => out + s + (i < values.length ? part(values[i]) : ''), ''));
}

const STYLE = `
body{font:15px/1.5 system-ui,"Noto Sans CJK SC",sans-serif;margin:0;color:#1f2933;background:#f7f8fa}
header{background:#b91c1c;color:#fff;padding:10px 24px}header a{color:#fff;text-decoration:none;font-weight:600}
nav.crumbs{padding:8px 24px;background:#fff;border-bottom:1px solid #e4e7eb;font-size:14px}
main{padding:16px 24px;max-width:1200px}h1{font-size:22px;margin:8px 0}
div.scroll{overflow-x:auto;max-width:100%}table{border-collapse:collapse;background:#fff;font-size:13px}table.items td{white-space:nowrap;max-width:360px;overflow:hidden;text-overflow:ellipsis}th,td{border:1px solid #e4e7eb;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f0f2f5}.meta{color:#52606d}.who{float:right;font-size:13px;opacity:.9}
svg.sketch{background:#fff;border:1px solid #e4e7eb;width:100%;max-width:640px;height:360px;display:block;margin:8px 0}
svg.sketch path{fill:rgba(185,28,28,.18);stroke:#b91c1c;vector-effect:non-scaling-stroke;stroke-width:1.2}
svg.sketch circle{fill:#b91c1c}.paging a{margin-right:16px}ul.links li{margin:2px 0}code{background:#eef0f3;padding:0 4px}`;

/** Who reads a page, and the access key they signed in with in the URL (if they did). */
export interface Reader {
  viewer: Viewer | undefined;
  accessKey?: string;
}

/** A link to a page of /ogc: with the reader's access key, so a person browsing with the key in the URL stays signed in. */
const to = ({ accessKey }: Reader, path: string) =>
  accessKey === undefined ? path : `${path}${path.includes('?') ? '&' : '?'}${ACCESS_KEY_PARAMETER}=${encodeURIComponent(accessKey)}`;

function page(title: string, crumbs: [string, string?][], reader: Reader, body: Markup, json: string) {
  const { viewer } = reader;
  const who = viewer ? `${viewer.username} (${viewer.role})` : '未登录 · 仅公开图层 (not signed in: public layers only)';
  return `<!doctype html>${html`<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<link rel="icon" href="data:,"><title>${title} · Gridmap OGC API</title><style>${new Markup(STYLE)}</style></head>
<body><header><a href="${to(reader, '/ogc?f=html')}">Gridmap · OGC API – Features</a><span class="who" data-testid="who">${who}</span></header>
<nav class="crumbs">${crumbs.map(([label, href], i) => html`${i ? ' / ' : ''}${href ? html`<a href="${to(reader, href)}">${label}</a>` : label}`)}</nav>
<main><h1>${title}</h1>${body}<p class="meta"><a href="${to(reader, json)}" rel="alternate" type="application/json">JSON</a></p></main></body></html>`}`;
}

const linkList = (links: Link[]) =>
  html`<ul class="links">${links.map((l) => html`<li><a href="${l.href}" rel="${l.rel}">${l.title ?? l.rel}</a> <span class="meta">${l.rel} · ${l.type ?? ''}</span></li>`)}</ul>`;

export function landingHtml(
  body: { title: string; description: string; links: Link[] },
  base: string,
  reader: Reader,
  conformsTo?: string[],
) {
  const content = html`<p>${body.description}</p>
${conformsTo ? html`<ul data-testid="conformance">${conformsTo.map((c) => html`<li><code>${c}</code></li>`)}</ul>` : ''}
${linkList(body.links.filter((l) => l.rel !== 'self' && l.rel !== 'alternate'))}
<h2>在 QGIS / GDAL 中使用 (Use in QGIS or GDAL)</h2>
<p>QGIS: 图层 › 添加图层 › 添加 WFS / OGC API – Features 图层, URL <code>${base}</code>; 身份验证: 基本认证 (Basic), 用户名任意, 密码为访问密钥 (access key as the password), 或 URL <code>${base}?access_key=&lt;key&gt;</code>.</p>
<p>GDAL: <code>ogrinfo OAPIF:${base}</code> (with <code>--config GDAL_HTTP_HEADERS "Authorization: Bearer …"</code>, or <code>--config GDAL_HTTP_AUTH BASIC --config GDAL_HTTP_USERPWD user:&lt;key&gt;</code>).</p>`;
  return page(
    body.title,
    [['Gridmap OGC API', conformsTo ? '/ogc?f=html' : undefined], ...(conformsTo ? [[body.title] as [string]] : [])],
    reader,
    content,
    conformsTo ? '/ogc/conformance?f=json' : '/ogc?f=json',
  );
}

const extentText = (c: CollectionAnswer) =>
  [
    c.extent.spatial ? `bbox ${c.extent.spatial.bbox[0].map((n) => n.toFixed(5)).join(', ')}` : 'no features',
    c.extent.temporal ? `${c.extent.temporal.interval[0].map((t) => t?.slice(0, 10) ?? '..').join(' – ')}` : '',
  ]
    .filter(Boolean)
    .join(' · ');

export function collectionsHtml(body: { collections: CollectionAnswer[] }, reader: Reader) {
  const content = html`<table data-testid="collections"><thead><tr><th>id</th><th>title</th><th>description</th><th>extent</th></tr></thead><tbody>
${body.collections.map((c) => html`<tr data-collection="${c.id}"><td><a href="${to(reader, `/ogc/collections/${c.id}?f=html`)}">${c.id}</a></td><td>${c.title}</td><td>${c.description}</td><td>${extentText(c)}</td></tr>`)}
</tbody></table>`;
  return page('Collections', [['Gridmap OGC API', '/ogc?f=html'], ['Collections']], reader, content, '/ogc/collections?f=json');
}

export function collectionHtml(c: CollectionAnswer, queryables: Queryable[], reader: Reader) {
  const content = html`<p>${c.description}</p><p class="meta">${extentText(c)} · CRS84</p>
<p><a href="${to(reader, `/ogc/collections/${c.id}/items?f=html`)}" data-testid="browse">浏览要素 (browse the features)</a> · <a href="${to(reader, `/ogc/collections/${c.id}/items`)}">GeoJSON</a></p>
<h2>Queryables</h2><p class="meta">${queryables.map((q) => `${q.name} (${q.type})`).join(', ')}</p>`;
  return page(
    c.title,
    [['Gridmap OGC API', '/ogc?f=html'], ['Collections', '/ogc/collections?f=html'], [c.title]],
    reader,
    content,
    `/ogc/collections/${c.id}?f=json`,
  );
}

export function queryablesHtml(collection: Collection, queryables: Queryable[], reader: Reader) {
  const content = html`<p>Each is a query parameter of the items: <code>?name=value</code>, equal to the value.</p>
<table data-testid="queryables"><thead><tr><th>name</th><th>type</th></tr></thead><tbody>
${queryables.map((q) => html`<tr><td><code>${q.name}</code></td><td>${q.type}</td></tr>`)}</tbody></table>`;
  return page(
    `${collection.title} · queryables`,
    [
      ['Gridmap OGC API', '/ogc?f=html'],
      ['Collections', '/ogc/collections?f=html'],
      [collection.title, `/ogc/collections/${collection.id}?f=html`],
      ['queryables'],
    ],
    reader,
    content,
    `/ogc/collections/${collection.id}/queryables?f=json`,
  );
}

function sketchSvg(sketch: Sketch | null, hrefOf: (id: number) => string) {
  if (!sketch) return '';
  return html`<svg class="sketch" data-testid="sketch" viewBox="${sketch.viewBox}" preserveAspectRatio="xMidYMid meet" role="img" aria-label="features on this page">
${sketch.shapes.map((s) => html`<a href="${hrefOf(s.id)}">${s.kind === 'point' ? new Markup(`<circle ${s.svg} r="6"></circle>`) : new Markup(`<path d="${escape(s.svg)}"></path>`)}</a>`)}</svg>`;
}

const cell = (value: unknown) => (value !== null && typeof value === 'object' ? JSON.stringify(value) : (value ?? ''));

export function itemsHtml(
  collection: Collection,
  p: {
    numberMatched?: number;
    numberReturned: number;
    links: { rel: string; href: string }[];
    features: GeoJSON.Feature[];
    sketch: Sketch | null;
    limit: number;
  },
  reader: Reader,
) {
  const columns = [...new Set(p.features.flatMap((f) => Object.keys(f.properties ?? {})))];
  const item = (id: unknown) => to(reader, `/ogc/collections/${collection.id}/items/${String(id)}?f=html`);
  const paging = html`<p class="paging">${p.links.map((l) => html`<a href="${l.href}" rel="${l.rel}">${l.rel === 'next' ? '下一页 next ›' : '‹ 上一页 previous'}</a>`)}</p>`;
  const content = html`<p class="meta" data-testid="counts">${p.numberReturned}${p.numberMatched === undefined ? '' : ` of ${p.numberMatched}`} features, ${p.limit} a page</p>
${sketchSvg(p.sketch, item)}${paging}
<div class="scroll"><table class="items" data-testid="items"><thead><tr><th>id</th>${columns.map((c) => html`<th>${c}</th>`)}</tr></thead><tbody>
${p.features.map((f) => html`<tr data-id="${f.id}"><td><a href="${item(f.id)}">${f.id}</a></td>${columns.map((c) => html`<td>${cell(f.properties?.[c])}</td>`)}</tr>`)}
</tbody></table></div>${paging}`;
  return page(
    `${collection.title} · items`,
    [
      ['Gridmap OGC API', '/ogc?f=html'],
      ['Collections', '/ogc/collections?f=html'],
      [collection.title, `/ogc/collections/${collection.id}?f=html`],
      ['items'],
    ],
    reader,
    content,
    `/ogc/collections/${collection.id}/items?f=json`,
  );
}

export function itemHtml(collection: Collection, feature: GeoJSON.Feature, sketch: Sketch | null, reader: Reader) {
  const content = html`${sketchSvg(sketch, () => '#')}
<table data-testid="feature"><tbody>${Object.entries(feature.properties ?? {}).map(([k, v]) => html`<tr><th>${k}</th><td>${cell(v)}</td></tr>`)}</tbody></table>`;
  return page(
    `${collection.title} ${String(feature.id)}`,
    [
      ['Gridmap OGC API', '/ogc?f=html'],
      ['Collections', '/ogc/collections?f=html'],
      [collection.title, `/ogc/collections/${collection.id}?f=html`],
      ['items', `/ogc/collections/${collection.id}/items?f=html`],
      [String(feature.id)],
    ],
    reader,
    content,
    `/ogc/collections/${collection.id}/items/${String(feature.id)}?f=json`,
  );
}
