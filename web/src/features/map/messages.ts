// The map feature's texts in both languages, composed into the interface's messages in web/src/i18n.tsx.
// `en` is typed by `zh`'s keys, so a text missing from either language (or only in one) fails `tsc`.

const zh = {
  'map.error': '地图数据加载失败',
  'panel.close': '关闭',
  'panel.empty': '点击地图上的社区、网格或楼栋查看详情',
  'value.yes': '是',
  'value.no': '否',
};

const en: Record<keyof typeof zh, string> = {
  'map.error': 'The map data could not be loaded',
  'panel.close': 'Close',
  'panel.empty': 'Click a community, grid or building on the map for its details',
  'value.yes': 'yes',
  'value.no': 'no',
};

export const mapMessages = { 'zh-CN': zh, en };
