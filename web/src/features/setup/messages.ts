// The setup feature's texts in both languages, composed into the interface's messages in web/src/i18n.tsx.
// `en` is typed by `zh`'s keys, so a text missing from either language (or only in one) fails `tsc`.

const zh = {
  'setup.title': '建立本市地图',
  'setup.intro': '按顺序导入：区县、街道、社区、网格、楼栋、党员、驻区单位，再为各级工作人员建账号。每一步可先检查（不写入），再导入。',
  'setup.count': '已有 {n} 条',
  'setup.none': '尚无',
  'setup.done': '已完成',
  'setup.next': '下一步',
  'setup.importHere': '导入{layer}',
  'setup.gap.districts.without_boundary': '{n} 个区县没有边界',
  'setup.gap.streets.without_boundary': '{n} 个街道既无边界也无社区',
  'setup.gap.communities.without_grids': '{n} 个社区还没有网格',
  'setup.gap.grids.without_buildings': '{n} 个网格还没有楼栋',
  'setup.gap.buildings.outside_grids': '{n} 栋楼不在任何网格内',
  'setup.gap.members.without_building': '{n} 名党员未匹配到楼栋',
  'setup.users': '工作人员账号',
  'setup.usersHint': '在“账号与审计”中为区县、街道、社区、网格的工作人员建账号。',
  'setup.openMap': '查看地图',
  'setup.refresh': '刷新',
};

const en: Record<keyof typeof zh, string> = {
  'setup.title': "Set up your city's map",
  'setup.intro':
    'Import in this order: districts, streets, communities, grids, buildings, Party members, resident units; then create accounts for the staff. Each step can be checked first (nothing written), then imported.',
  'setup.count': '{n} so far',
  'setup.none': 'none yet',
  'setup.done': 'done',
  'setup.next': 'next',
  'setup.importHere': 'Import {layer}',
  'setup.gap.districts.without_boundary': '{n} districts have no boundary',
  'setup.gap.streets.without_boundary': '{n} streets have neither a boundary nor communities',
  'setup.gap.communities.without_grids': '{n} communities have no grids',
  'setup.gap.grids.without_buildings': '{n} grids have no buildings',
  'setup.gap.buildings.outside_grids': '{n} buildings lie in no grid',
  'setup.gap.members.without_building': '{n} members matched no building',
  'setup.users': 'Staff accounts',
  'setup.usersHint': 'Create accounts for district, street, community and grid staff under Accounts & audit.',
  'setup.openMap': 'Open the map',
  'setup.refresh': 'Refresh',
};

export const setupMessages = { 'zh-CN': zh, en };
