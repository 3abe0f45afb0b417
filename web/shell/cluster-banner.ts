/**
 * The cluster's state above every page, for everyone logged in: on a
 * member, where its master is (a link to the master's UI) and, while the
 * master does not answer, that cluster-wide changes wait for it or for a
 * promotion; on any node, each node that does not answer, in red, since
 * when. Nothing on a single node or while all is well on the master.
 */
import { heldBy, masterOf, offlineText, roleOf, selfOf, uiUrl, useCluster } from '../cluster';
import { Icon } from '../components/icon';
import { html } from '../html';
import { t } from '../i18n';
import { href } from '../router';

export function ClusterBanner() {
  const { data: c } = useCluster();
  if (!c || roleOf(c) === 'single') return null;
  const master = masterOf(c);
  const held = heldBy(c);
  const down = c.nodes.filter((n) => !n.online && n.name !== held);
  return html`<div class="cluster-banners">
    ${master && roleOf(c) === 'member' &&
    html`<div class=${`banner ${held ? 'banner-error' : 'banner-info'} cluster-banner`} role=${held ? 'alert' : 'status'}>
      <${Icon} name=${held ? 'failed' : 'cluster'} />
      <div class="banner-body">
        <strong>${t('cluster.banner.member', { node: c.self, cluster: c.name!, master: master.name })}</strong>
        <span class="banner-detail">${t('cluster.banner.where')} <a href=${uiUrl(master, selfOf(c), location)}>${master.address}</a></span>
        ${held && html`<span class="banner-detail">${t('cluster.promote.down', { master: master.name, since: offlineText(master) })}</span>
          <span class="banner-detail">${t('cluster.held.text', { master: master.name })} <a href=${href('cluster')}>${t('cluster.held.link')}</a></span>`}
      </div>
    </div>`}
    ${down.map(
      (n) => html`<div key=${n.name} class="banner banner-error cluster-banner" role="alert">
        <${Icon} name="failed" />
        <div class="banner-body">
          <strong>${t('cluster.banner.nodeDown', { node: n.name, since: offlineText(n) })}</strong>
          <span class="banner-detail">${t('cluster.banner.nodeDownText')} <a href=${href('nodes', n.name)}>${t('cluster.banner.toNode', { node: n.name })}</a></span>
        </div>
      </div>`,
    )}
  </div>`;
}
