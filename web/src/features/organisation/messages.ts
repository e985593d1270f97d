// The organisation feature's texts in both languages, composed into the interface's messages in web/src/i18n.tsx.
// `en` is typed by `zh`'s keys, so a text missing from either language (or only in one) fails `tsc`.

const zh = {
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
};

const en: Record<keyof typeof zh, string> = {
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
};

export const organisationMessages = { 'zh-CN': zh, en };
