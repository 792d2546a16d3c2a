// The federation links in the header: each peer node's parties and the
// state of its link (up, stale, down), read from /v1/federation every few
// seconds. A stale or down link means its parties' operations may be out
// of date (the map draws them dotted) and activations need a head's
// recorded override. Nothing is shown on a server without peers.

import { get } from './api.js';
import { h, replace } from './dom.js';
import { emit, state } from './state.js';

const EVERY_MS = 5000;

export function initPeers(root) {
  const refresh = async () => {
    try {
      render(root, await get('/v1/federation'));
    } catch (err) {
      console.warn('read the federation links', err);
    }
  };
  refresh();
  setInterval(refresh, EVERY_MS);
}

function render(root, fed) {
  const peers = fed?.peers ?? [];
  const stale = new Set(peers.filter((p) => p.state !== 'up').flatMap((p) => p.parties ?? []));
  if ([...stale].join() !== [...state.staleParties].join()) {
    state.staleParties = stale;
    emit('operations'); // the map draws their operations as possibly out of date
  }
  root.hidden = peers.length === 0;
  replace(root, peers.map((p) => {
    const who = (p.parties ?? []).join(', ');
    const alerts = (p.alerts ?? []).length;
    const seen = p.last_seen ? `last heard ${new Date(p.last_seen).toISOString().slice(11, 19)}Z` : 'never heard from';
    const title = p.state === 'up'
      ? `${who}: link up, ${seen}; ${p.behind} entries to apply`
      : `${who}: link ${p.state}, ${seen} — its operations may be out of date; activating an operation needs a head's override (coordinate by voice)`;
    return h('span', { class: `peer peer-${p.state}`, 'data-peer': who, title: alerts ? `${title}; ${alerts} alert(s)` : title },
      `${who} ${p.state === 'up' ? 'up' : p.state.toUpperCase()}${alerts ? ` ⚠${alerts}` : ''}`);
  }));
}
