/**
 * The demo city: a seeded, deterministic district around 109.49 E, 36.59 N (same seed and size,
 * same city). It is laid out on a jittered lattice of city blocks so that communities tile the
 * district and grids partition each community by construction: neighbouring blocks share their
 * vertices exactly. Each block is one grid; a community is a run of neighbouring blocks in one
 * street. `size` scales the number of streets (size 1: 2 streets, 7 communities, 40 grids).
 */
import type { BuildingKind, MemberCategory } from '../server/db/schema.ts';
import { chineseNumeral } from '../server/domain/chinese-numerals.ts';

export type Position = [number, number];
export type Ring = Position[];

export interface DemoDistrict {
  code: string;
  name: string;
}
export interface DemoStreet {
  code: string;
  name: string;
  district_code: string;
}
export interface DemoCommunity {
  code: string;
  name: string;
  street_code: string;
  cells: Ring[];
  party_committee_name: string;
  party_committee_secretary: string;
  /** community workers in post: some communities fall short of the staffing standard */
  staff_count: number;
}
export interface DemoGrid {
  code: string;
  name: string;
  community_code: string;
  ring: Ring;
  party_branch_name: string;
  party_branch_secretary: string;
  grid_worker_name: string;
  grid_worker_phone: string;
}
export interface DemoBuilding {
  name: string;
  address: string;
  kind: BuildingKind;
  floors: number;
  households: number;
  residents: number;
  has_party_group: boolean;
  party_group_leader: string | null;
  ring: Ring;
  /** The grid the generator placed it in; the database derives its own link from the footprint. */
  grid_code: string;
}
export interface DemoMember {
  name: string;
  phone: string;
  category: MemberCategory;
  registered_community_code: string | null;
  employer_unit: string | null;
  lon: number;
  lat: number;
  /** The footprint (its index in `buildings`) the generator placed the home in, well inside it. */
  building: number;
  is_central_household: boolean;
  is_volunteer: boolean;
  skills: string[];
  availability: 'available' | 'off_duty';
}
export interface DemoUnit {
  name: string;
  kind: 'enterprise' | 'school' | 'agency' | 'hospital' | 'social_organization' | 'other';
  geometry: { type: 'Point'; coordinates: Position } | { type: 'Polygon'; coordinates: Ring[] };
  has_agreement: boolean;
  agreement_signed_on: string | null;
  resources: string;
  contact_name: string;
  contact_phone: string;
}
export interface DemoIssue {
  title: string;
  description: string;
  category: string;
  status: string;
  lon: number;
  lat: number;
  reported_at: string;
  resolved_at: string | null;
  closed_at: string | null;
  /** the wall it is on (escalated ones have climbed to the community's) and, once answered, the echo */
  wall: 'grid' | 'community';
  answer: string | null;
  answered_at: string | null;
  rating: number | null;
  reopen_count: number;
}
export interface DemoCity {
  seed: number;
  size: number;
  districts: DemoDistrict[];
  streets: DemoStreet[];
  communities: DemoCommunity[];
  grids: DemoGrid[];
  buildings: DemoBuilding[];
  members: DemoMember[];
  units: DemoUnit[];
  issues: DemoIssue[];
}

export const DEMO_CENTRE: Position = [109.49, 36.59];
const DISTRICT = { code: '610602', name: '宝塔区' };
const BLOCK_COLS_PER_STREET = 4;
const BLOCK_ROWS_PER_STREET = 5;
const SLOTS = 7; // building slots per block side
const ISSUES_PER_SIZE = 330;
/** Community workers in post, community by community: the standard asks 20–25 of the demo's communities */
const STAFF_COUNTS = [22, 18, 24, 21, 26, 19, 23, 20, 17, 25];
/** Issues are dated in the 120 days before this unless said (the tests' city does not depend on the clock). */
const DATED_BEFORE = Date.UTC(2026, 10, 1);

const STREET_NAMES = ['南市街道', '凤凰山街道', '宝塔山街道', '桥沟街道', '枣园街道', '新城街道', '万花山街道', '柳林街道'];
const COMMUNITY_NAMES = [
  '凤凰山',
  '南关',
  '二道街',
  '北关',
  '杨家岭',
  '枣园',
  '新城',
  '东关',
  '西沟',
  '七里铺',
  '百米大道',
  '马家湾',
  '王家坪',
  '桥儿沟',
  '清凉山',
  '文化沟',
  '大砭沟',
  '南桥',
  '北苑',
  '东盛',
  '嘉岭',
  '延河湾',
  '南门坡',
  '飞机场',
];
const SURNAMES = '王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎';
const GIVEN = '伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红玉梅晓东海燕文斌宇浩凯鹏飞辉丹萍';
const SKILLS = ['elder_care', 'disability', 'hardship', 'employment', 'medical', 'education', 'patrol', 'legal_aid', 'mediation', 'repair'];
const EMPLOYERS = [
  '宝塔区教育局',
  '延安市人民医院',
  '宝塔区税务局',
  '延安中学',
  '市供电公司',
  '宝塔区住建局',
  '延安大学',
  '市自来水公司',
  '区市场监管局',
  '市公交公司',
];
const ISSUE_TEMPLATES: Record<string, string[]> = {
  noise: ['夜间广场舞噪音扰民', '装修噪音影响休息', '商铺音响声音过大'],
  parking: ['小区门口乱停车堵塞通道', '消防通道被占用', '非机动车乱停放'],
  property: ['物业不及时维修单元门', '电梯经常故障', '小区绿化无人管理'],
  street_light: ['路灯不亮存在安全隐患', '巷道缺少照明', '楼道灯损坏'],
  sanitation: ['垃圾清运不及时', '下水道堵塞返味', '楼道堆放杂物'],
  safety: ['井盖破损', '楼顶违章搭建', '电动车楼道充电'],
  elder_care: ['独居老人需要定期探访', '老人就餐困难', '高龄老人出行不便'],
  other: ['希望增设健身器材', '小区公告栏破旧', '建议开设便民理发点'],
};
const ISSUE_CATEGORIES: [string, number][] = [
  ['noise', 12],
  ['parking', 16],
  ['property', 18],
  ['street_light', 8],
  ['sanitation', 16],
  ['safety', 10],
  ['elder_care', 10],
  ['other', 10],
];
const ISSUE_STATUSES: [string, number][] = [
  ['reported', 15],
  ['accepted', 10],
  ['in_progress', 15],
  ['escalated', 8],
  ['resolved', 7],
  ['answered', 8],
  ['rated', 7],
  ['closed', 25],
  ['rejected', 5],
  ['reopened', 2],
];
const ANSWERS = [
  '网格员已现场核实并协调处理完毕，感谢您的反映。',
  '已联系物业和相关部门落实整改，后续将持续跟进。',
  '社区已组织志愿者上门服务，问题已解决。',
  '已协调责任单位限期整改，整改情况已复查。',
];
const UNIT_KINDS: [DemoUnit['kind'], string[]][] = [
  ['enterprise', ['延安能源公司', '宝塔建筑公司', '圣地物流公司', '延河商贸公司']],
  ['school', ['实验小学', '第二中学', '育才幼儿园']],
  ['agency', ['区人社局', '区民政局', '街道司法所', '供电所']],
  ['hospital', ['社区卫生服务站', '中医医院', '妇幼保健院']],
  ['social_organization', ['红色志愿者协会', '老年大学', '邻里互助会']],
];

/** mulberry32: small, fast and good enough to scatter a demo city. */
function random(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const between = (lo: number, hi: number) => lo + (hi - lo) * next();
  const int = (lo: number, hi: number) => Math.floor(between(lo, hi + 1));
  const pick = <T>(items: ArrayLike<T>): T => items[Math.floor(next() * items.length)];
  const weighted = <T>(items: readonly [T, number][]): T => {
    let r = next() * items.reduce((s, [, w]) => s + w, 0);
    for (const [item, w] of items) if ((r -= w) < 0) return item;
    return items[items.length - 1][0];
  };
  return { next, between, int, pick, weighted };
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');

export function generateDemoCity({
  seed = 1,
  size = 1,
  datedBefore = DATED_BEFORE,
}: { seed?: number; size?: number; datedBefore?: number } = {}): DemoCity {
  const rnd = random(seed);
  const personName = () => rnd.pick(SURNAMES) + rnd.pick(GIVEN) + (rnd.next() < 0.6 ? rnd.pick(GIVEN) : '');
  const phone = () => `1${rnd.pick(['38', '39', '52', '58', '87', '89'])}${pad(rnd.int(0, 99999999), 8)}`;

  // Local metres → lon/lat (equirectangular about the centre; exact enough over a district).
  const [lon0, lat0] = DEMO_CENTRE;
  const toLonLat = (x: number, y: number): Position => [
    Math.round((lon0 + x / (111320 * Math.cos((lat0 * Math.PI) / 180))) * 1e7) / 1e7,
    Math.round((lat0 + y / 110574) * 1e7) / 1e7,
  ];

  const streetCount = Math.max(1, Math.round(2 * size));
  const streetCols = Math.ceil(Math.sqrt(streetCount));
  const streetRows = Math.ceil(streetCount / streetCols);
  const cols = streetCols * BLOCK_COLS_PER_STREET;
  const rows = streetRows * BLOCK_ROWS_PER_STREET;

  // The lattice: block corners and the midpoints of block edges, each jittered once and shared.
  const xs = [0];
  for (let c = 0; c < cols; c++) xs.push(xs[c] + rnd.between(240, 340));
  const ys = [0];
  for (let r = 0; r < rows; r++) ys.push(ys[r] + rnd.between(220, 310));
  const x0 = xs[cols] / 2;
  const y0 = ys[rows] / 2;
  const corner: Position[][] = xs.map((x) => ys.map((y) => [x - x0 + rnd.between(-20, 20), y - y0 + rnd.between(-20, 20)]));
  const jitterMid = (a: Position, b: Position): Position => [
    (a[0] + b[0]) / 2 + rnd.between(-8, 8),
    (a[1] + b[1]) / 2 + rnd.between(-8, 8),
  ];
  const bottomMid = xs.slice(0, cols).map((_, c) => ys.map((_, r) => jitterMid(corner[c][r], corner[c + 1][r])));
  const sideMid = xs.map((_, c) => ys.slice(0, rows).map((_, r) => jitterMid(corner[c][r], corner[c][r + 1])));
  const blockRing = (c: number, r: number): Ring =>
    [
      corner[c][r],
      bottomMid[c][r],
      corner[c + 1][r],
      sideMid[c + 1][r],
      corner[c + 1][r + 1],
      bottomMid[c][r + 1],
      corner[c][r + 1],
      sideMid[c][r],
      corner[c][r],
    ].map(([x, y]) => toLonLat(x, y));

  const city: DemoCity = {
    seed,
    size,
    districts: [DISTRICT],
    streets: [],
    communities: [],
    grids: [],
    buildings: [],
    members: [],
    units: [],
    issues: [],
  };
  const communityNames = new Set<string>();

  for (let s = 0; s < streetCount; s++) {
    const street: DemoStreet = {
      code: DISTRICT.code + pad(s + 1, 3),
      name:
        s < STREET_NAMES.length
          ? STREET_NAMES[s]
          : `${STREET_NAMES[s % STREET_NAMES.length].slice(0, -2)}${chineseNumeral(Math.floor(s / STREET_NAMES.length) + 1)}街道`,
      district_code: DISTRICT.code,
    };
    city.streets.push(street);
    const sc = (s % streetCols) * BLOCK_COLS_PER_STREET;
    const sr = Math.floor(s / streetCols) * BLOCK_ROWS_PER_STREET;
    // Blocks in snake order: consecutive blocks share an edge, so any run of them is one polygon.
    const blocks: [number, number][] = [];
    for (let r = 0; r < BLOCK_ROWS_PER_STREET; r++) {
      for (let k = 0; k < BLOCK_COLS_PER_STREET; k++) blocks.push([sc + (r % 2 ? BLOCK_COLS_PER_STREET - 1 - k : k), sr + r]);
    }
    const communityCount = s % 2 === 0 ? 4 : 3;
    let start = 0;
    for (let k = 0; k < communityCount; k++) {
      const take = Math.round((blocks.length - start) / (communityCount - k));
      const run = blocks.slice(start, start + take);
      start += take;
      let base = COMMUNITY_NAMES[city.communities.length % COMMUNITY_NAMES.length];
      for (let n = 2; communityNames.has(base); n++)
        base = `${COMMUNITY_NAMES[city.communities.length % COMMUNITY_NAMES.length]}${chineseNumeral(n)}`;
      communityNames.add(base);
      const community: DemoCommunity = {
        code: street.code + pad(k + 1, 3),
        name: `${base}社区`,
        street_code: street.code,
        cells: run.map(([c, r]) => blockRing(c, r)),
        party_committee_name: `中共${base}社区委员会`,
        party_committee_secretary: personName(),
        staff_count: STAFF_COUNTS[city.communities.length % STAFF_COUNTS.length],
      };
      city.communities.push(community);
      // the last community of a street is a new estate whose volunteers are mostly away: the gaps a leader looks for
      addCommunity(community, street, run, k === communityCount - 1 ? 0.9 : 0.2);
    }
  }

  function addCommunity(community: DemoCommunity, street: DemoStreet, run: [number, number][], offDuty: number) {
    let buildingNo = 0;
    const workplaces: DemoBuilding[] = [];
    run.forEach(([c, r], g) => {
      const grid: DemoGrid = {
        code: community.code + pad(g + 1, 3),
        name: `第${chineseNumeral(g + 1)}网格`,
        community_code: community.code,
        ring: community.cells[g],
        party_branch_name: `${community.name}第${chineseNumeral(g + 1)}网格党支部`,
        party_branch_secretary: personName(),
        grid_worker_name: personName(),
        grid_worker_phone: phone(),
      };
      city.grids.push(grid);
      // Most grids hold 300–500 households; some fall outside the band, as in any real city.
      const target = rnd.next() < 0.85 ? rnd.int(300, 500) : rnd.pick([rnd.int(200, 299), rnd.int(501, 620)]);
      let households = 0;
      const slots: [number, number][] = [];
      for (let i = 0; i < SLOTS; i++) for (let j = 0; j < SLOTS; j++) slots.push([i, j]);
      for (let i = slots.length - 1; i > 0; i--) {
        const j = rnd.int(0, i);
        [slots[i], slots[j]] = [slots[j], slots[i]];
      }
      const A = corner[c][r],
        B = corner[c + 1][r],
        C = corner[c + 1][r + 1],
        D = corner[c][r + 1];
      const angle = Math.atan2(B[1] - A[1], B[0] - A[0]);
      for (const [i, j] of slots) {
        const residential = households < target;
        if (!residential && rnd.next() > 0.65) continue; // open space
        const u = 0.1 + ((i + 0.5) * 0.8) / SLOTS;
        const v = 0.1 + ((j + 0.5) * 0.8) / SLOTS;
        const centre: Position = [0, 1].map(
          (k) => (1 - u) * (1 - v) * A[k] + u * (1 - v) * B[k] + u * v * C[k] + (1 - u) * v * D[k],
        ) as Position;
        const length = rnd.between(12, 18);
        const depth = rnd.between(9, 12);
        const local = (a: number, b: number): Position => [
          centre[0] + a * Math.cos(angle) - b * Math.sin(angle),
          centre[1] + a * Math.sin(angle) + b * Math.cos(angle),
        ];
        const ring = [
          [-1, -1],
          [1, -1],
          [1, 1],
          [-1, 1],
          [-1, -1],
        ].map(([a, b]) => toLonLat(...local((a * length) / 2, (b * depth) / 2)));
        buildingNo++;
        let building: DemoBuilding;
        if (residential) {
          const floors = rnd.pick([4, 5, 5, 6, 6, 6, 7, 11, 18]);
          const full = floors * (rnd.next() < 0.85 ? 1 : 2) * 2;
          const homes = Math.min(full, target - households);
          households += homes;
          const withGroup = homes >= 12 && rnd.next() < 0.7;
          building = {
            name: `${buildingNo}号楼`,
            address: `${street.name}${community.name}${buildingNo}号楼`,
            kind: 'residential',
            floors,
            households: homes,
            residents: Math.round(homes * rnd.between(2.2, 3.1)),
            has_party_group: withGroup,
            party_group_leader: withGroup ? personName() : null,
            ring,
            grid_code: grid.code,
          };
          addResidents(building, community, local, length, depth, offDuty);
        } else {
          const kind = rnd.weighted<BuildingKind>([
            ['shop', 40],
            ['commercial', 25],
            ['unit', 15],
            ['school', 5],
            ['other', 15],
          ]);
          building = {
            name: `${buildingNo}号${{ shop: '商铺', commercial: '商业楼', unit: '办公楼', school: '教学楼', other: '配套用房', residential: '' }[kind]}`,
            address: `${street.name}${community.name}${buildingNo}号`,
            kind,
            floors: kind === 'shop' ? rnd.int(1, 2) : rnd.int(2, 6),
            households: 0,
            residents: 0,
            has_party_group: false,
            party_group_leader: null,
            ring,
            grid_code: grid.code,
          };
          workplaces.push(building);
        }
        city.buildings.push(building);
      }
    });
    addUnits(community, workplaces);
  }

  function addResidents(
    building: DemoBuilding,
    community: DemoCommunity,
    local: (a: number, b: number) => Position,
    length: number,
    depth: number,
    offDuty: number,
  ) {
    const count = Math.round(building.households * 0.33 * rnd.between(0.6, 1.4));
    for (let n = 0; n < count; n++) {
      const [lon, lat] = toLonLat(...local(rnd.between(-0.35, 0.35) * length, rnd.between(-0.35, 0.35) * depth));
      const category = rnd.weighted<MemberCategory>([
        ['in_service', 35],
        ['retired', 40],
        ['floating', 10],
        ['resident', 15],
      ]);
      const volunteer = rnd.next() < 0.125;
      const skills = volunteer ? [...new Set(Array.from({ length: rnd.int(1, 3) }, () => rnd.pick(SKILLS)))].sort() : [];
      city.members.push({
        name: personName(),
        phone: phone(),
        category,
        registered_community_code: category === 'floating' && rnd.next() < 0.5 ? null : community.code,
        employer_unit: category === 'in_service' ? rnd.pick(EMPLOYERS) : null,
        lon,
        lat,
        // the building is pushed once its residents are made
        building: city.buildings.length,
        is_central_household: rnd.next() < 0.06,
        is_volunteer: volunteer,
        skills,
        availability: volunteer && rnd.next() < offDuty ? 'off_duty' : 'available',
      });
    }
  }

  function addUnits(community: DemoCommunity, workplaces: DemoBuilding[]) {
    for (let n = 0; n < 5 && workplaces.length > 0; n++) {
      const site = workplaces[Math.floor(rnd.next() * workplaces.length)];
      const [kind, names] = rnd.pick(UNIT_KINDS);
      const ring = site.ring;
      const centre: Position = [(ring[0][0] + ring[2][0]) / 2, (ring[0][1] + ring[2][1]) / 2].map(
        (v) => Math.round(v * 1e7) / 1e7,
      ) as Position;
      const agreement = rnd.next() < 0.6;
      city.units.push({
        name: `${community.name.replace('社区', '')}${rnd.pick(names)}`,
        kind,
        geometry: rnd.next() < 0.3 ? { type: 'Polygon', coordinates: [ring] } : { type: 'Point', coordinates: centre },
        has_agreement: agreement,
        agreement_signed_on: agreement ? `202${rnd.int(4, 6)}-${pad(rnd.int(1, 12), 2)}-${pad(rnd.int(1, 28), 2)}` : null,
        resources: rnd.pick(['活动场地', '志愿服务队', '义诊服务', '法律咨询', '就业岗位', '图书室']),
        contact_name: personName(),
        contact_phone: phone(),
      });
    }
  }

  // Issues: mostly inside blocks; a few beyond the district edge, which no grid covers.
  const issueCount = Math.round(ISSUES_PER_SIZE * size);
  const usedStreetBlocks = city.grids.length;
  for (let n = 0; n < issueCount; n++) {
    let x: number, y: number;
    if (rnd.next() < 0.015) {
      x = -x0 - rnd.between(150, 400);
      y = rnd.between(-y0, y0);
    } else {
      const g = rnd.int(0, usedStreetBlocks - 1);
      const [c, r] = blockOfGrid(g);
      const u = rnd.between(0.05, 0.95),
        v = rnd.between(0.05, 0.95);
      const A = corner[c][r],
        B = corner[c + 1][r],
        C = corner[c + 1][r + 1],
        D = corner[c][r + 1];
      x = (1 - u) * (1 - v) * A[0] + u * (1 - v) * B[0] + u * v * C[0] + (1 - u) * v * D[0];
      y = (1 - u) * (1 - v) * A[1] + u * (1 - v) * B[1] + u * v * C[1] + (1 - u) * v * D[1];
    }
    const category = rnd.weighted(ISSUE_CATEGORIES);
    const status = rnd.weighted(ISSUE_STATUSES);
    const reported = datedBefore - rnd.between(0.1, 120) * 86400_000;
    const done = ['resolved', 'answered', 'rated', 'closed', 'reopened'].includes(status);
    const resolved = done ? reported + rnd.between(0.1, 12) * 86400_000 : null;
    const closed =
      status === 'closed'
        ? (resolved as number) + rnd.between(0.5, 5) * 86400_000
        : status === 'rejected'
          ? reported + rnd.between(0.1, 3) * 86400_000
          : null;
    const title = rnd.pick(ISSUE_TEMPLATES[category]);
    const [lon, lat] = toLonLat(x, y);
    city.issues.push({
      title,
      description: `居民反映：${title}，请网格员核实处理。`,
      category,
      status,
      lon,
      lat,
      reported_at: new Date(reported).toISOString(),
      resolved_at: resolved === null ? null : new Date(resolved).toISOString(),
      closed_at: closed === null ? null : new Date(closed).toISOString(),
      // answers and ratings follow from the issue's number, not the generator, so the city above stays the same
      wall: status === 'escalated' ? 'community' : 'grid',
      answer: ['answered', 'rated', 'closed', 'reopened'].includes(status) ? ANSWERS[n % ANSWERS.length] : null,
      answered_at: resolved !== null && status !== 'resolved' ? new Date(resolved + 86400_000).toISOString() : null,
      rating: status === 'reopened' ? 2 : ['rated', 'closed'].includes(status) ? [5, 4, 5, 3, 4][n % 5] : null,
      reopen_count: status === 'reopened' ? 1 : 0,
    });
  }

  /** Block (column, row) of the g-th grid, recovered from the street layout above. */
  function blockOfGrid(g: number): [number, number] {
    const perStreet = BLOCK_COLS_PER_STREET * BLOCK_ROWS_PER_STREET;
    const s = Math.floor(g / perStreet);
    const k = g % perStreet;
    const r = Math.floor(k / BLOCK_COLS_PER_STREET);
    const i = k % BLOCK_COLS_PER_STREET;
    return [
      (s % streetCols) * BLOCK_COLS_PER_STREET + (r % 2 ? BLOCK_COLS_PER_STREET - 1 - i : i),
      Math.floor(s / streetCols) * BLOCK_ROWS_PER_STREET + r,
    ];
  }

  return city;
}
