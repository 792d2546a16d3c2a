// The event log: the latest events the caller may see, as they arrive.

import { h, replace, fmtTime, fmtDuration } from './dom.js';
import { on, opLabel, state } from './state.js';

let list;

export function initEventLog(root) {
  list = h('ol', { class: 'events', id: 'event-list', reversed: true });
  replace(root, list);
  on('events', render);
}

function describe(e) {
  const who = e.actor?.party ? `${e.actor.party} ${e.actor.role}` : e.actor?.role ?? '';
  switch (e.type) {
    case 'operation.declared': case 'operation.updated': case 'operation.activated': case 'operation.ended': case 'operation.cancelled':
      return `${who}: ${e.type.split('.')[1]} ${opLabel(e.operation)} (v${e.operation?.version})`;
    case 'operation.acknowledged':
      return `${e.receipt?.party} acknowledged ${opLabel(e.receipt?.operation)} v${e.receipt?.version}`;
    case 'notice.short':
      return `short notice: ${opLabel(e.operation)} declared ${fmtDuration(e.lead_time_s)} before it starts (notice ${fmtDuration(e.notice_s)})`;
    case 'escalation.raised': return `escalated (level ${e.escalation?.level}) to ${e.escalation?.party}: ${e.escalation?.subject?.kind}${e.reason ? ` — ${e.reason}` : ''}`;
    case 'escalation.cleared': return `escalation cleared: ${e.escalation?.subject?.kind} of ${e.escalation?.party}`;
    case 'hotline.message': return `${who} → ${e.message?.to?.join(', ')}: ${e.message?.urgency === 'urgent' ? 'URGENT ' : ''}${e.message?.text ?? ''}`;
    case 'hotline.acknowledged': return `${who} acknowledged a hotline message`;
    case 'line.check': return `${who}: line check`;
    default: return `${who}: ${e.type.replace('.', ' ')}`;
  }
}

function render() {
  const recent = state.events.slice(-150).reverse();
  replace(list, recent.map((e) => h('li', { class: `ev ev-${e.type.split('.')[0]}` },
    h('time', { datetime: e.time }, fmtTime(e.time)), ' ', h('span', { class: 'ev-type' }, e.type), ' ', describe(e))));
}
