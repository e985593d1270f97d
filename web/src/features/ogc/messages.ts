// The ogc feature's texts in both languages, composed into the interface's messages in web/src/i18n.tsx.
// `en` is typed by `zh`'s keys, so a text missing from either language (or only in one) fails `tsc`.

const zh = {
  'gis.title': 'GIS 数据服务（OGC API – Features）',
  'gis.hint': 'QGIS、GDAL 等 GIS 软件可把 Gridmap 的图层直接添加为数据源，无需导出文件：数据随时是最新的，权限与本账号相同。',
  'gis.url': '服务地址',
  'gis.layer': '图层',
  'gis.features': '要素数（本账号可见）',
  'gis.keys': '只读访问密钥',
  'gis.keysHint':
    'QGIS：图层 › 添加图层 › 添加 WFS / OGC API – Features 图层，填入服务地址，并在“HTTP 头”中加入密钥那一行。密钥以本账号的权限只读数据，不能修改任何内容；退出登录后仍有效，到期或撤销即失效。未登录只能读取社区和网格。',
  'gis.makeKey': '创建只读密钥',
  'gis.keyLabel': '用途',
  'gis.keyDays': '有效期',
  'gis.days': '天',
  'gis.shownOnce': '密钥只显示这一次，请复制到 GIS 软件中：',
  'gis.expires': '到期',
  'gis.revoke': '撤销',
  'gis.gdal': 'GDAL 命令行',
  'gis.qgis':
    'QGIS 3.22 不能发送 Bearer 头：身份验证选“基本认证 (Basic)”，用户名任意，密码填访问密钥；或在 URL 后加 ?access_key=<密钥>（后续分页链接会自动带上）。密钥不会写入服务器日志。',
  'gis.browse': '在浏览器中查看公开图层',
};

const en: Record<keyof typeof zh, string> = {
  'gis.title': 'GIS service (OGC API – Features)',
  'gis.hint':
    "QGIS, GDAL and other GIS software add Gridmap's layers as a data source, with no files to export: always current, with this account's permissions.",
  'gis.url': 'Service address',
  'gis.layer': 'Layer',
  'gis.features': 'Features (seen by this account)',
  'gis.keys': 'Read-only access keys',
  'gis.keysHint':
    "QGIS: Layer › Add Layer › Add WFS / OGC API – Features Layer, enter the address and add the key's line as an HTTP header. A key reads with this account's permissions and can change nothing; it outlives signing out and ends when it expires or is revoked. Signed out, only communities and grids can be read.",
  'gis.makeKey': 'Make a read-only key',
  'gis.keyLabel': 'For',
  'gis.keyDays': 'Valid for',
  'gis.days': 'days',
  'gis.shownOnce': 'The key is shown this once: copy it into the GIS now.',
  'gis.expires': 'Expires',
  'gis.revoke': 'Revoke',
  'gis.gdal': 'GDAL on the command line',
  'gis.qgis':
    "QGIS 3.22 cannot send a Bearer header: in its authentication choose Basic, any user name, the access key as the password; or add ?access_key=<key> to the URL (the links it follows keep it). The key never appears in the server's log.",
  'gis.browse': 'Browse the public layers in the browser',
};

export const ogcMessages = { 'zh-CN': zh, en };
