/**
 * English messages: every text the web app shows. Keys are dotted
 * "area.what"; "{name}" marks a value filled in by t():
 *
 *   t('panel.running', { n: 2 })  →  "Running: 2"
 *
 * de.ts must hold exactly the same keys (its type says so, and a unit test
 * checks it, together with every key the components use).
 */
export const en = {
  'app.name': 'ramvm',
  'app.skip': 'Skip to content',
  'app.loading': 'Loading…',
  'app.menu': 'Menu',
  'app.notFound': 'This page does not exist.',
  'app.noAccess': 'You may not use this page.',
  'app.home': 'Go to the start page',
  'app.viewFailed': 'This page could not be loaded. Reload the browser page and try again.',
  'app.reload': 'Reload',

  'top.node': 'Node',
  'top.user': 'User',
  'top.language': 'Language',
  'top.logout': 'Log out',
  'lang.en': 'English',
  'lang.de': 'Deutsch',

  'nav.label': 'Main navigation',
  'nav.guests': 'Guests',
  'nav.iso': 'ISO images',
  'nav.backups': 'Backups',
  'nav.tasks': 'Tasks',
  'nav.users': 'Users',
  'nav.cluster': 'Cluster',

  'login.title': 'Log in',
  'login.intro': 'Log in to manage this node.',
  'login.username': 'User name',
  'login.password': 'Password',
  'login.submit': 'Log in',
  'login.busy': 'Logging in…',
  'login.failed': 'Wrong user name or password.',
  'login.expired': 'Your session has ended. Please log in again.',
  'login.loggedOut': 'You have logged out.',

  'field.required': 'This field is required.',
  'field.requiredMark': 'required',

  'error.title': 'Error',
  'error.invalid': 'The input was not accepted.',
  'error.unauthenticated': 'You are not logged in.',
  'error.forbidden': 'You lack the permission for this.',
  'error.notFound': 'Not found.',
  'error.conflict': 'Not possible in the current state.',
  'error.tooLarge': 'Too large.',
  'error.throttled': 'Too many attempts.',
  'error.server': 'The node could not do this.',
  'error.network': 'The node cannot be reached. Check the network connection and try again.',
  'error.code': 'Code: {code}',
  'error.retry': 'Try again',
  'error.dismiss': 'Dismiss',

  'dialog.cancel': 'Cancel',
  'dialog.confirm': 'Confirm',
  'dialog.close': 'Close',
  'dialog.typeToConfirm': 'Type “{text}” to confirm',

  'table.filter': 'Filter',
  'table.count': 'Showing {shown} of {total}',
  'table.empty': 'Nothing to show.',
  'table.noMatch': 'Nothing matches the filter.',
  'table.actions': 'Actions',

  'progress.value': '{value} %',

  'time.seconds': '{s} s',
  'time.minutes': '{m} min {s} s',
  'time.hours': '{h} h {m} min',

  'task.status.running': 'Running',
  'task.status.ok': 'OK',
  'task.status.failed': 'Failed',
  'task.kind.disk-check': 'Disk check',

  'panel.title': 'Tasks',
  'panel.none': 'No running tasks',
  'panel.running': 'Running: {n}',
  'panel.failed': 'Failed: {n}',
  'panel.more': 'and {n} more',
  'panel.acknowledge': 'Acknowledge',
  'panel.acknowledgeAll': 'Acknowledge all failures',
  'panel.showLog': 'Show log',
  'panel.allTasks': 'All tasks',
  'panel.loadFailed': 'Tasks could not be loaded.',

  'tasks.title': 'Tasks',
  'tasks.filter': 'Filter tasks',
  'tasks.empty': 'No tasks yet.',
  'tasks.col.status': 'Status',
  'tasks.col.task': 'Task',
  'tasks.col.user': 'User',
  'tasks.col.started': 'Started',
  'tasks.col.duration': 'Duration',
  'tasks.col.progress': 'Progress',
  'tasks.back': 'All tasks',
  'tasks.details': 'Details',
  'tasks.id': 'Task ID',
  'tasks.object': 'Object',
  'tasks.node': 'Node',
  'tasks.ended': 'Ended',
  'tasks.message': 'Message',
  'tasks.log': 'Log',
  'tasks.logFollowing': 'The log follows the running task.',
  'tasks.logEmpty': 'The log is empty.',
  'tasks.logTail': 'Showing the last {n} lines.',
  'tasks.acknowledged': 'Acknowledged',
} as const;

export type MessageKey = keyof typeof en;
export type Messages = Record<MessageKey, string>;
