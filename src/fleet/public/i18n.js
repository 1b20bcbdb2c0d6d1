// The fleet page's texts: Russian by default, English with the switch (kept in localStorage like the gateway's page).
const DICT = {
  ru: {
    'brand.fleet': 'флот', 'nav.list': 'Шлюзы', 'nav.metrics': 'Метрики', 'nav.logout': 'Выйти',
    'login.title': 'Вход', 'login.password': 'Пароль', 'login.submit': 'Войти', 'login.bad': 'Неверный пароль',
    'setup.title': 'Первый запуск: задайте пароль', 'setup.hint': 'Пароль защищает страницу мониторинга. Не менее 8 символов.', 'setup.password': 'Новый пароль', 'setup.repeat': 'Повторите пароль', 'setup.submit': 'Задать пароль', 'setup.mismatch': 'Пароли не совпадают', 'setup.weak': 'Не менее 8 символов',
    'list.title': 'Шлюзы', 'list.filter': 'Поиск', 'list.show': 'Показать', 'list.all': 'все', 'list.problems': 'с проблемами', 'list.offline': 'не в сети', 'list.online': 'в сети', 'list.empty': 'Шлюзов пока нет: ни один не публиковал state/health.', 'list.none': 'Ничего не найдено.',
    'list.total': 'Всего: {n}', 'list.withProblems': 'С проблемами: {n}', 'list.offlineCount': 'Не в сети: {n}',
    'col.gateway': 'Шлюз', 'col.state': 'Состояние', 'col.alerts': 'Проблемы', 'col.queue': 'Очередь', 'col.register': 'Касса', 'col.paper': 'Бумага', 'col.shift': 'Смена, ч', 'col.fn': 'ФН, дней', 'col.ofd': 'Не в ОФД', 'col.z': 'Последний Z', 'col.seen': 'Виден',
    'state.online': 'в сети', 'state.offline': 'не в сети', 'state.unknown': 'нет данных', 'yes': 'да', 'no': 'нет', 'up': 'есть', 'down': 'нет связи', 'paper.ok': 'есть', 'paper.out': 'нет', 'none': '—',
    'ago.s': '{n} с назад', 'ago.m': '{n} мин назад', 'ago.h': '{n} ч назад', 'ago.d': '{n} дн назад',
    'alert.offline': 'не в сети', 'alert.register_down': 'касса недоступна', 'alert.paper_out': 'нет бумаги', 'alert.shift_24h': 'смена около 24 ч', 'alert.fn_expiring': 'срок ФН истекает', 'alert.ofd_backlog_warning': 'ОФД: давно не передано', 'alert.ofd_backlog_critical': 'ОФД: скоро блокировка', 'alert.queue_stuck': 'очередь стоит',
    'd.back': '← ко всем шлюзам', 'd.title': 'Шлюз {id}', 'd.state': 'Состояние', 'd.stateAt': 'Состояние получено', 'd.healthAt': 'Health получен', 'd.version': 'Версия', 'd.uptime': 'Работает, с', 'd.alerts': 'Активные проблемы', 'd.noAlerts': 'Нет', 'd.since': 'с {t}',
    'd.register': 'Касса (ККТ)', 'd.link': 'Связь', 'd.model': 'Модель', 'd.serial': 'Заводской номер', 'd.protocol': 'Протокол', 'd.lastOk': 'Последний обмен', 'd.error': 'Ошибка',
    'd.shiftCard': 'Бумага и смена', 'd.paper': 'Бумага', 'd.shift': 'Смена', 'd.shiftNumber': 'Номер смены', 'd.hoursOpen': 'Открыта, ч', 'd.nextClose': 'Закрытие по расписанию',
    'd.fn': 'ФН и ОФД', 'd.fnNumber': 'Номер ФН', 'd.fnExpiry': 'Срок действия', 'd.daysLeft': 'Дней осталось', 'd.unsent': 'Не передано в ОФД', 'd.oldestDays': 'Самый старый, дней',
    'd.queue': 'Очередь', 'd.depth': 'Чеков в очереди', 'd.oldest': 'Самый старый, с', 'd.blocked': 'Остановлена', 'd.mqtt': 'MQTT шлюза',
    'd.z': 'Последние Z-отчёты', 'd.zNone': 'Монитор ещё не видел Z-отчётов этого шлюза (они не хранятся брокером).', 'd.zShift': 'Смена', 'd.zFd': 'ФД', 'd.zDate': 'Дата', 'd.zCount': 'Чеков', 'd.zTotal': 'Сумма', 'd.zReceived': 'Получен',
    'd.health': 'Health (как опубликован)', 'd.notFound': 'Шлюз не найден.',
    'shift.open': 'открыта', 'shift.closed': 'закрыта', 'shift.expired': 'истекла (24 ч)',
    'err.network': 'Нет связи с монитором', 'err.throttled': 'Слишком много попыток, подождите минуту',
  },
  en: {
    'brand.fleet': 'fleet', 'nav.list': 'Gateways', 'nav.metrics': 'Metrics', 'nav.logout': 'Log out',
    'login.title': 'Log in', 'login.password': 'Password', 'login.submit': 'Log in', 'login.bad': 'Wrong password',
    'setup.title': 'First run: set the password', 'setup.hint': 'The password protects the monitoring page. At least 8 characters.', 'setup.password': 'New password', 'setup.repeat': 'Repeat the password', 'setup.submit': 'Set password', 'setup.mismatch': 'The passwords differ', 'setup.weak': 'At least 8 characters',
    'list.title': 'Gateways', 'list.filter': 'Search', 'list.show': 'Show', 'list.all': 'all', 'list.problems': 'with problems', 'list.offline': 'offline', 'list.online': 'online', 'list.empty': 'No gateways yet: none has published state/health.', 'list.none': 'Nothing found.',
    'list.total': 'Total: {n}', 'list.withProblems': 'With problems: {n}', 'list.offlineCount': 'Offline: {n}',
    'col.gateway': 'Gateway', 'col.state': 'State', 'col.alerts': 'Problems', 'col.queue': 'Queue', 'col.register': 'Register', 'col.paper': 'Paper', 'col.shift': 'Shift, h', 'col.fn': 'FN, days', 'col.ofd': 'Not at OFD', 'col.z': 'Last Z', 'col.seen': 'Seen',
    'state.online': 'online', 'state.offline': 'offline', 'state.unknown': 'no data', 'yes': 'yes', 'no': 'no', 'up': 'up', 'down': 'down', 'paper.ok': 'yes', 'paper.out': 'out', 'none': '—',
    'ago.s': '{n} s ago', 'ago.m': '{n} min ago', 'ago.h': '{n} h ago', 'ago.d': '{n} d ago',
    'alert.offline': 'offline', 'alert.register_down': 'register down', 'alert.paper_out': 'paper out', 'alert.shift_24h': 'shift near 24 h', 'alert.fn_expiring': 'FN expiring', 'alert.ofd_backlog_warning': 'OFD backlog', 'alert.ofd_backlog_critical': 'OFD: block near', 'alert.queue_stuck': 'queue stuck',
    'd.back': '← all gateways', 'd.title': 'Gateway {id}', 'd.state': 'State', 'd.stateAt': 'State received', 'd.healthAt': 'Health received', 'd.version': 'Version', 'd.uptime': 'Uptime, s', 'd.alerts': 'Active problems', 'd.noAlerts': 'None', 'd.since': 'since {t}',
    'd.register': 'Register (KKT)', 'd.link': 'Link', 'd.model': 'Model', 'd.serial': 'Serial number', 'd.protocol': 'Protocol', 'd.lastOk': 'Last exchange', 'd.error': 'Error',
    'd.shiftCard': 'Paper and shift', 'd.paper': 'Paper', 'd.shift': 'Shift', 'd.shiftNumber': 'Shift number', 'd.hoursOpen': 'Open, h', 'd.nextClose': 'Scheduled close',
    'd.fn': 'FN and OFD', 'd.fnNumber': 'FN number', 'd.fnExpiry': 'Valid until', 'd.daysLeft': 'Days left', 'd.unsent': 'Not sent to the OFD', 'd.oldestDays': 'Oldest, days',
    'd.queue': 'Queue', 'd.depth': 'Receipts queued', 'd.oldest': 'Oldest, s', 'd.blocked': 'Stopped', 'd.mqtt': 'Gateway MQTT',
    'd.z': 'Last Z-reports', 'd.zNone': 'The monitor has not seen a Z-report of this gateway yet (the broker does not keep them).', 'd.zShift': 'Shift', 'd.zFd': 'FD', 'd.zDate': 'Date', 'd.zCount': 'Receipts', 'd.zTotal': 'Total', 'd.zReceived': 'Received',
    'd.health': 'Health (as published)', 'd.notFound': 'No such gateway.',
    'shift.open': 'open', 'shift.closed': 'closed', 'shift.expired': 'expired (24 h)',
    'err.network': 'The monitor does not answer', 'err.throttled': 'Too many attempts, wait a minute',
  },
};

let lang = localStorage.getItem('lang') === 'en' ? 'en' : 'ru';

export function t(key, vars) {
  let s = DICT[lang][key] ?? DICT.ru[key] ?? key;
  if (vars) for (const [k, v] of Object.entries(vars)) s = s.split(`{${k}}`).join(String(v));
  return s;
}

export function getLang() {
  return lang;
}

export function setLang(l) {
  lang = l === 'en' ? 'en' : 'ru';
  localStorage.setItem('lang', lang);
  document.documentElement.lang = lang;
}
