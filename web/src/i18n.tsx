import { createContext, useContext, useEffect, useState, type ReactNode } from 'react';

/** The interface speaks Simplified Chinese by default (its users are community staff); English on request. */
export type Lang = 'zh-CN' | 'en';

const messages = {
  'zh-CN': {
    'app.title': 'Gridmap 网格地图',
    'app.switchLanguage': 'English',
    'layers.title': '图层',
    'layer.communities': '社区',
    'layer.grids': '网格',
    'layer.buildings': '楼栋',
    'organisation.title': '党组织与统计',
    'organisation.loading': '正在加载组织信息…',
    'organisation.committee': '社区大党委',
    'organisation.branch': '网格党支部',
    'organisation.secretary': '书记',
    'organisation.gridWorker': '网格员',
    'organisation.partyGroups': '楼栋党小组',
    'organisation.groupLeader': '党小组长',
    'organisation.noGroup': '未建党小组',
    'organisation.grids': '网格',
    'count.households': '户数',
    'count.residents': '人口',
    'count.members': '党员',
    'count.volunteers': '志愿者',
    'count.central_households': '党员中心户',
    'count.open_issues': '未办结问题',
    'legend.title': '图例',
    'legend.partyGroup': '有楼栋党小组',
    'legend.otherBuildings': '其他楼栋',
    'map.loading': '正在加载地图…',
    'map.error': '地图数据加载失败',
    'map.truncated': '要素过多，仅显示部分',
    'panel.close': '关闭',
    'panel.empty': '点击地图上的社区、网格或楼栋查看详情',
    'value.yes': '是',
    'value.no': '否',
    'kind.residential': '住宅',
    'kind.commercial': '商业楼',
    'kind.shop': '商铺',
    'kind.school': '学校',
    'kind.unit': '单位',
    'kind.other': '其他',
    'prop.code': '编码',
    'prop.name': '名称',
    'prop.street_code': '街道编码',
    'prop.street_name': '街道',
    'prop.district_code': '区县编码',
    'prop.district_name': '区县',
    'prop.community_id': '社区编号',
    'prop.community_name': '所属社区',
    'prop.grid_id': '网格编号',
    'prop.party_branch_name': '网格党支部',
    'prop.party_branch_secretary': '支部书记',
    'prop.grid_worker_name': '网格员',
    'prop.grid_worker_phone': '网格员电话',
    'prop.address': '地址',
    'prop.kind': '类型',
    'prop.floors': '层数',
    'prop.households': '户数',
    'prop.residents': '人口',
    'prop.has_party_group': '楼栋党小组',
    'prop.party_group_leader': '党小组长',
    'prop.party_committee_name': '社区大党委',
    'prop.party_committee_secretary': '大党委书记',
    'prop.version': '版本',
    'prop.created_at': '创建时间',
    'prop.updated_at': '更新时间',
  },
  en: {
    'app.title': 'Gridmap',
    'app.switchLanguage': '中文',
    'layers.title': 'Layers',
    'layer.communities': 'Communities',
    'layer.grids': 'Grids',
    'layer.buildings': 'Buildings',
    'organisation.title': 'Party organisation and counts',
    'organisation.loading': 'Loading the organisation…',
    'organisation.committee': 'Community Party committee',
    'organisation.branch': 'Grid Party branch',
    'organisation.secretary': 'Secretary',
    'organisation.gridWorker': 'Grid worker',
    'organisation.partyGroups': 'Building Party groups',
    'organisation.groupLeader': 'Group leader',
    'organisation.noGroup': 'no Party group',
    'organisation.grids': 'Grids',
    'count.households': 'Households',
    'count.residents': 'Residents',
    'count.members': 'Party members',
    'count.volunteers': 'Volunteers',
    'count.central_households': 'Central households',
    'count.open_issues': 'Open issues',
    'legend.title': 'Legend',
    'legend.partyGroup': 'Has a building Party group',
    'legend.otherBuildings': 'Other buildings',
    'map.loading': 'Loading the map…',
    'map.error': 'The map data could not be loaded',
    'map.truncated': 'Too many features, only some are shown',
    'panel.close': 'Close',
    'panel.empty': 'Click a community, grid or building on the map for its details',
    'value.yes': 'yes',
    'value.no': 'no',
    'kind.residential': 'residential',
    'kind.commercial': 'commercial',
    'kind.shop': 'shop',
    'kind.school': 'school',
    'kind.unit': 'unit',
    'kind.other': 'other',
    'prop.code': 'Code',
    'prop.name': 'Name',
    'prop.street_code': 'Street code',
    'prop.street_name': 'Street',
    'prop.district_code': 'District code',
    'prop.district_name': 'District',
    'prop.community_id': 'Community id',
    'prop.community_name': 'Community',
    'prop.grid_id': 'Grid id',
    'prop.party_branch_name': 'Grid Party branch',
    'prop.party_branch_secretary': 'Branch secretary',
    'prop.grid_worker_name': 'Grid worker',
    'prop.grid_worker_phone': 'Grid worker phone',
    'prop.address': 'Address',
    'prop.kind': 'Kind',
    'prop.floors': 'Floors',
    'prop.households': 'Households',
    'prop.residents': 'Residents',
    'prop.has_party_group': 'Building Party group',
    'prop.party_group_leader': 'Party group leader',
    'prop.party_committee_name': 'Community Party committee',
    'prop.party_committee_secretary': 'Committee secretary',
    'prop.version': 'Version',
    'prop.created_at': 'Created',
    'prop.updated_at': 'Updated',
  },
} satisfies Record<Lang, Record<string, string>>;

export type MessageKey = keyof (typeof messages)['zh-CN'];

interface I18n {
  lang: Lang;
  setLang: (lang: Lang) => void;
  t: (key: MessageKey) => string;
  /** A message if one exists for `key`, else undefined (for keys that come from data). */
  maybe: (key: string) => string | undefined;
}

const I18nContext = createContext<I18n | null>(null);
const STORAGE_KEY = 'gridmap.lang';

export function I18nProvider({ children }: { children: ReactNode }) {
  const [lang, setLang] = useState<Lang>(() => (localStorage.getItem(STORAGE_KEY) === 'en' ? 'en' : 'zh-CN'));
  useEffect(() => {
    localStorage.setItem(STORAGE_KEY, lang);
    document.documentElement.lang = lang;
  }, [lang]);
  const table: Record<string, string> = messages[lang];
  const value: I18n = { lang, setLang, t: (key) => table[key], maybe: (key) => table[key] };
  return <I18nContext.Provider value={value}>{children}</I18nContext.Provider>;
}

export function useI18n(): I18n {
  const i18n = useContext(I18nContext);
  if (!i18n) throw new Error('useI18n outside I18nProvider');
  return i18n;
}
