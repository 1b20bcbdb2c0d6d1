/* kkt-gateway local web page: plain JavaScript, no build step. Every text from the server is set with textContent. */
'use strict';

// ---------------------------------------------------------------------------------------------------- i18n
const DICT = {
  ru: {
    'nav.status': 'Статус', 'nav.settings': 'Настройки', 'nav.zreports': 'Z-отчёты', 'nav.journal': 'Журнал чеков', 'nav.manual': 'Ручной чек', 'nav.logs': 'Логи', 'nav.logout': 'Выйти',
    'login.title': 'Вход', 'login.password': 'Пароль', 'login.submit': 'Войти',
    'setup.title': 'Первый запуск: задайте пароль', 'setup.hint': 'Пароль защищает эту страницу. Не менее 8 символов.', 'setup.password': 'Новый пароль', 'setup.repeat': 'Повторите пароль', 'setup.submit': 'Задать пароль', 'setup.mismatch': 'Пароли не совпадают',
    'safe.banner': 'Безопасный режим: конфигурация не может быть применена, шлюз не печатает чеки. Исправьте настройки и перезапустите.',
    'status.title': 'Состояние', 'status.register': 'Касса (ККТ)', 'status.link': 'Связь', 'status.up': 'есть', 'status.down': 'нет', 'status.lastOk': 'Последний обмен', 'status.model': 'Модель', 'status.serial': 'Заводской номер', 'status.protocol': 'Протокол', 'status.protocolAuto': 'определён автоматически', 'status.registration': 'Регистрация ККТ', 'status.inn': 'ИНН', 'status.rn': 'Рег. номер ККТ', 'status.fromConfig': 'из настроек', 'status.sno': 'СНО', 'status.modes': 'Режимы', 'status.zMismatch': 'Последний Z-отчёт: расхождение с учётом шлюза', 'mode.encryption': 'шифрование', 'mode.autonomous': 'автономный', 'mode.automatic': 'автоматический', 'mode.services': 'услуги', 'mode.bso': 'БСО', 'mode.internet': 'интернет', 'status.pin': 'Закрепить протокол «{p}»', 'status.pinned': 'сохранено; действует после перезапуска', 'status.linkError': 'Ошибка',
    'status.check': 'Проверить связь', 'status.checking': 'Проверка…', 'status.checkOk': 'Касса ответила за {ms} мс', 'status.checkFail': 'Нет ответа: {error}',
    'status.paper': 'Бумага', 'status.paperOk': 'есть', 'status.paperOut': 'закончилась', 'status.cover': 'Крышка', 'status.coverOpen': 'открыта', 'status.coverClosed': 'закрыта',
    'status.shift': 'Смена', 'status.shiftNumber': 'Номер', 'status.shiftState': 'Состояние', 'status.openedAt': 'Открыта', 'status.hoursLeft': 'До 24 ч осталось', 'status.nextClose': 'Закрытие по расписанию', 'status.receipts': 'Чеков в смене',
    'shift.open': 'открыта', 'shift.closed': 'закрыта', 'shift.expired': 'истекла (24 ч)',
    'status.fn': 'Фискальный накопитель', 'status.fnNumber': 'Номер ФН', 'status.fnExpiry': 'Срок действия', 'status.daysLeft': 'дней осталось', 'status.unsent': 'Не передано в ОФД', 'status.oldestUnsent': 'Самый старый', 'status.lastFd': 'Последний ФД',
    'status.mqtt': 'MQTT', 'status.connected': 'Подключение', 'status.broker': 'Брокер', 'status.queue': 'Очередь', 'status.depth': 'Чеков в очереди', 'status.oldestAge': 'Самый старый, с', 'status.outbox': 'Неотправленных ответов', 'status.blocked': 'Остановлена',
    'status.errors': 'Последние ошибки', 'status.noErrors': 'Нет', 'status.clock': 'Часы', 'status.drift': 'Расхождение с кассой, с', 'status.unknown': '—',
    'settings.title': 'Настройки', 'settings.mqtt': 'MQTT', 'settings.device': 'Касса', 'settings.fiscal': 'Налоги и кассир', 'settings.shift': 'Смена', 'settings.queue': 'Очередь', 'settings.web': 'Веб-страница', 'settings.save': 'Сохранить',
    'settings.saved': 'Сохранено.', 'settings.applied': 'Применено сразу: {list}.', 'settings.restart': 'Нужен перезапуск для: {list}.', 'settings.restartNow': 'Перезапустить сейчас', 'settings.restarting': 'Перезапуск… страница обновится сама.', 'settings.nothing': 'Изменений нет.',
    'settings.errors': 'Исправьте отмеченные поля.', 'settings.backup': 'Скачать копию настроек', 'settings.restore': 'Восстановить из файла', 'settings.backupHint': 'Пароли в копию не входят (***): при восстановлении остаются текущие.',
    'settings.detected': 'Найденные устройства', 'settings.typed': 'или укажите путь вручную', 'settings.refresh': 'Обновить список', 'settings.noPorts': 'Устройства не найдены',
    'settings.secretKeep': 'не менять', 'settings.password': 'Пароль страницы', 'settings.currentPassword': 'Текущий пароль', 'settings.newPassword': 'Новый пароль', 'settings.changePassword': 'Сменить пароль', 'settings.passwordChanged': 'Пароль изменён.',
    'f.mqtt.url': 'Адрес брокера (mqtt:// или mqtts://)', 'f.mqtt.client_id': 'Client ID', 'f.mqtt.base_topic': 'Базовый топик', 'f.mqtt.username': 'Пользователь', 'f.mqtt.password': 'Пароль', 'f.mqtt.ca': 'Файл CA (TLS)', 'f.mqtt.cert': 'Сертификат клиента (TLS)', 'f.mqtt.key': 'Ключ клиента (TLS)', 'f.mqtt.protocol_version': 'Версия MQTT',
    'f.device.name': 'Название кассы', 'f.device.port': 'Порт кассы', 'f.device.protocol': 'Протокол', 'f.device.baud_rate': 'Скорость, бод', 'f.device.password': 'Пароль администратора кассы',
    'f.fiscal.tax_systems': 'Системы налогообложения', 'f.fiscal.company_inn': 'ИНН организации', 'f.fiscal.registration_number': 'Регистрационный номер ККТ', 'f.fiscal.cashier.name': 'Кассир (ФИО)', 'f.fiscal.cashier.inn': 'ИНН кассира', 'f.fiscal.require_customer_contact': 'Требовать e-mail или телефон покупателя',
    'f.shift.close_at': 'Закрывать смену в (ЧЧ:ММ)', 'f.shift.max_hours': 'Не дольше, часов', 'f.queue.max_receipts': 'Максимум чеков в очереди', 'f.queue.retention_days': 'Хранить журнал, дней', 'f.web.host': 'Адрес', 'f.web.port': 'Порт',
    'sno.osn': 'ОСН', 'sno.usn_income': 'УСН доходы', 'sno.usn_income_outcome': 'УСН доходы − расходы', 'sno.envd': 'ЕНВД', 'sno.esn': 'ЕСХН', 'sno.patent': 'Патент',
    'z.title': 'Z-отчёты', 'z.add': 'Добавить Z-отчёт', 'z.adding': 'Закрытие смены…', 'z.added': 'Смена закрыта: Z-отчёт № {n}.', 'z.failed': 'Не удалось закрыть смену: {error}', 'z.queued': 'Команда в очереди…',
    'z.number': 'Номер Z-отчёта', 'z.date': 'Дата', 'z.ofd': 'Отправлено в ОФД', 'z.count': 'Чеков', 'z.sum': 'Сумма', 'z.fn': 'Номер ФН', 'z.reg': 'Рег. номер ККТ', 'z.sno': 'СНО', 'z.link': 'Ссылка', 'z.empty': 'Z-отчётов пока нет.',
    'z.cumulative': 'Нарастающий итог', 'z.since': 'с {d}', 'z.today': 'Текущая смена', 'z.cash': 'Наличными', 'z.cashless': 'Безналичными', 'z.returns': 'Возвраты', 'z.all': 'ещё {n} не передано', 'z.yes': 'да', 'z.unsent': 'не передано: {n}', 'z.view': 'показать', 'z.ofdLink': 'ОФД', 'z.mismatch': 'расхождение с учётом шлюза: {n}', 'z.byRegister': 'по данным ККТ', 'z.byGateway': 'по учёту шлюза (ККТ не дала своих счётчиков)', 'z.cashIn': 'Внесения', 'z.cashOut': 'Выплаты', 'j.fnCopy': 'Копия из ФН', 'j.fnCopyTitle': 'Копия из ФН',
    'j.title': 'Журнал чеков', 'j.search': 'external_id', 'j.status': 'Статус', 'j.any': 'любой', 'j.from': 'С', 'j.to': 'По', 'j.find': 'Найти', 'j.more': 'Ещё', 'j.empty': 'Ничего не найдено.',
    'j.accepted': 'принят', 'j.done': 'фискализирован', 'j.fail': 'ошибка', 'j.acceptedAt': 'Принят', 'j.total': 'Сумма', 'j.fd': 'ФД / ФП', 'j.request': 'Запрос', 'j.result': 'Результат', 'j.republish': 'Опубликовать результат снова', 'j.republished': 'Результат опубликован снова.', 'j.back': '← к журналу', 'j.error': 'Ошибка',
    'm.title': 'Ручная регистрация чека', 'm.operation': 'Операция', 'm.sell': 'Приход', 'm.sell_refund': 'Возврат прихода', 'm.external_id': 'external_id', 'm.sno': 'СНО', 'm.email': 'E-mail покупателя', 'm.phone': 'Телефон покупателя', 'm.inn': 'ИНН организации', 'm.companyEmail': 'E-mail магазина (отправитель чека)', 'm.address': 'Место расчётов',
    'm.items': 'Позиции', 'm.name': 'Наименование', 'm.price': 'Цена, ₽', 'm.qty': 'Кол-во', 'm.sum': 'Сумма, ₽', 'm.vat': 'НДС', 'm.method': 'Способ расчёта', 'm.object': 'Предмет', 'm.addItem': '+ позиция', 'm.remove': '×',
    'm.payments': 'Оплата', 'm.cash': 'Наличными', 'm.card': 'Безналичными', 'm.prepaid': 'Зачёт аванса', 'm.credit': 'В кредит', 'm.total': 'Итого', 'm.submit': 'Зарегистрировать чек', 'm.sending': 'Отправка…',
    'm.accepted': 'Чек принят в очередь, ждём кассу…', 'm.done': 'Чек фискализирован: ФД № {fd}, ФП {fp}, смена {shift}.', 'm.failed': 'Чек не напечатан: {error}', 'm.rejected': 'Чек не принят: {error}', 'm.duplicate': 'Такой external_id уже есть: {status}.',
    'logs.title': 'Логи', 'logs.level': 'Уровень', 'logs.refresh': 'Обновить', 'logs.empty': 'Записей нет.',
    'err.network': 'Нет связи со шлюзом', 'err.throttled': 'Слишком много попыток, подождите минуту', 'common.yes': 'да', 'common.no': 'нет',
    'setup.claimHint': 'Чтобы никто другой в сети магазина не занял шлюз, нужен одноразовый код. Нажмите «Напечатать код»: касса напечатает нефискальный служебный чек с кодом (код есть и в журнале шлюза, journalctl -u kkt-gateway). Код действует 15 минут, 5 попыток.', 'setup.printCode': 'Напечатать код', 'setup.codePrinted': 'Код напечатан на кассе (и записан в журнал). Отпечаток сертификата: {fp}', 'setup.codeLogged': 'Касса не напечатала код ({error}); он в журнале шлюза.', 'setup.code': 'Код с чека', 'setup.username': 'Имя администратора',
    'login.username': 'Пользователь', 'nav.users': 'Пользователи', 'nav.audit': 'Аудит', 'role.admin': 'администратор', 'role.cashier': 'кассир',
    'u.title': 'Пользователи', 'u.name': 'Имя', 'u.role': 'Роль', 'u.created': 'Создан', 'u.add': 'Добавить', 'u.password': 'Пароль', 'u.remove': 'Удалить', 'u.added': 'Пользователь добавлен.', 'u.removed': 'Пользователь удалён.', 'u.own': 'Мой пароль',
    'a.title': 'Журнал действий (аудит)', 'a.time': 'Время', 'a.user': 'Пользователь', 'a.ip': 'Адрес', 'a.action': 'Действие', 'a.outcome': 'Итог', 'a.detail': 'Подробности', 'a.csv': 'Скачать CSV', 'a.find': 'Показать', 'a.empty': 'Записей нет.', 'a.any': 'любое',
  },
  en: {
    'nav.status': 'Status', 'nav.settings': 'Settings', 'nav.zreports': 'Z-reports', 'nav.journal': 'Receipts', 'nav.manual': 'Manual receipt', 'nav.logs': 'Logs', 'nav.logout': 'Log out',
    'login.title': 'Log in', 'login.password': 'Password', 'login.submit': 'Log in',
    'setup.title': 'First run: set the password', 'setup.hint': 'The password protects this page. At least 8 characters.', 'setup.password': 'New password', 'setup.repeat': 'Repeat the password', 'setup.submit': 'Set password', 'setup.mismatch': 'The passwords differ',
    'safe.banner': 'Safe mode: the configuration cannot be used, the gateway prints nothing. Fix the settings and restart.',
    'status.title': 'Status', 'status.register': 'Register (KKT)', 'status.link': 'Link', 'status.up': 'up', 'status.down': 'down', 'status.lastOk': 'Last exchange', 'status.model': 'Model', 'status.serial': 'Serial number', 'status.protocol': 'Protocol', 'status.protocolAuto': 'detected automatically', 'status.registration': 'Registration', 'status.inn': 'INN', 'status.rn': 'Registration no.', 'status.fromConfig': 'from the settings', 'status.sno': 'Tax systems', 'status.modes': 'Modes', 'status.zMismatch': 'Last Z-report differs from the gateway tally', 'mode.encryption': 'encryption', 'mode.autonomous': 'autonomous', 'mode.automatic': 'automatic', 'mode.services': 'services', 'mode.bso': 'BSO', 'mode.internet': 'internet', 'status.pin': 'Pin protocol “{p}”', 'status.pinned': 'saved; takes effect after a restart', 'status.linkError': 'Error',
    'status.check': 'Check connection', 'status.checking': 'Checking…', 'status.checkOk': 'The register answered in {ms} ms', 'status.checkFail': 'No answer: {error}',
    'status.paper': 'Paper', 'status.paperOk': 'present', 'status.paperOut': 'out', 'status.cover': 'Cover', 'status.coverOpen': 'open', 'status.coverClosed': 'closed',
    'status.shift': 'Shift', 'status.shiftNumber': 'Number', 'status.shiftState': 'State', 'status.openedAt': 'Opened', 'status.hoursLeft': 'Hours left of 24', 'status.nextClose': 'Scheduled close', 'status.receipts': 'Receipts in shift',
    'shift.open': 'open', 'shift.closed': 'closed', 'shift.expired': 'expired (24 h)',
    'status.fn': 'Fiscal storage (FN)', 'status.fnNumber': 'FN number', 'status.fnExpiry': 'Valid until', 'status.daysLeft': 'days left', 'status.unsent': 'Not sent to the OFD', 'status.oldestUnsent': 'Oldest', 'status.lastFd': 'Last document',
    'status.mqtt': 'MQTT', 'status.connected': 'Connected', 'status.broker': 'Broker', 'status.queue': 'Queue', 'status.depth': 'Receipts queued', 'status.oldestAge': 'Oldest, s', 'status.outbox': 'Answers not yet sent', 'status.blocked': 'Stopped',
    'status.errors': 'Last errors', 'status.noErrors': 'None', 'status.clock': 'Clock', 'status.drift': 'Drift from the register, s', 'status.unknown': '—',
    'settings.title': 'Settings', 'settings.mqtt': 'MQTT', 'settings.device': 'Register', 'settings.fiscal': 'Taxes and cashier', 'settings.shift': 'Shift', 'settings.queue': 'Queue', 'settings.web': 'Web page', 'settings.save': 'Save',
    'settings.saved': 'Saved.', 'settings.applied': 'Applied now: {list}.', 'settings.restart': 'Restart needed for: {list}.', 'settings.restartNow': 'Restart now', 'settings.restarting': 'Restarting… the page reloads by itself.', 'settings.nothing': 'Nothing changed.',
    'settings.errors': 'Fix the marked fields.', 'settings.backup': 'Download settings backup', 'settings.restore': 'Restore from file', 'settings.backupHint': 'Passwords are not in the backup (***): restoring keeps the current ones.',
    'settings.detected': 'Detected devices', 'settings.typed': 'or type the path', 'settings.refresh': 'Refresh list', 'settings.noPorts': 'No devices found',
    'settings.secretKeep': 'unchanged', 'settings.password': 'Page password', 'settings.currentPassword': 'Current password', 'settings.newPassword': 'New password', 'settings.changePassword': 'Change password', 'settings.passwordChanged': 'Password changed.',
    'f.mqtt.url': 'Broker URL (mqtt:// or mqtts://)', 'f.mqtt.client_id': 'Client ID', 'f.mqtt.base_topic': 'Base topic', 'f.mqtt.username': 'User', 'f.mqtt.password': 'Password', 'f.mqtt.ca': 'CA file (TLS)', 'f.mqtt.cert': 'Client certificate (TLS)', 'f.mqtt.key': 'Client key (TLS)', 'f.mqtt.protocol_version': 'MQTT version',
    'f.device.name': 'Register name', 'f.device.port': 'Register port', 'f.device.protocol': 'Protocol', 'f.device.baud_rate': 'Baud rate', 'f.device.password': 'Register admin password',
    'f.fiscal.tax_systems': 'Taxation systems', 'f.fiscal.company_inn': 'Company INN', 'f.fiscal.registration_number': 'Register registration number', 'f.fiscal.cashier.name': 'Cashier name', 'f.fiscal.cashier.inn': 'Cashier INN', 'f.fiscal.require_customer_contact': 'Require customer e-mail or phone',
    'f.shift.close_at': 'Close the shift at (HH:MM)', 'f.shift.max_hours': 'At most, hours', 'f.queue.max_receipts': 'Max receipts queued', 'f.queue.retention_days': 'Keep the journal, days', 'f.web.host': 'Address', 'f.web.port': 'Port',
    'sno.osn': 'General (OSN)', 'sno.usn_income': 'Simplified, income', 'sno.usn_income_outcome': 'Simplified, income − expense', 'sno.envd': 'ENVD', 'sno.esn': 'ESHN', 'sno.patent': 'Patent',
    'z.title': 'Z-reports', 'z.add': 'Add Z-report', 'z.adding': 'Closing the shift…', 'z.added': 'Shift closed: Z-report no. {n}.', 'z.failed': 'Could not close the shift: {error}', 'z.queued': 'Command queued…',
    'z.number': 'Z-report no.', 'z.date': 'Date', 'z.ofd': 'Sent to the OFD', 'z.count': 'Receipts', 'z.sum': 'Sum', 'z.fn': 'FN number', 'z.reg': 'Registration no.', 'z.sno': 'Tax system', 'z.link': 'Link', 'z.empty': 'No Z-reports yet.',
    'z.cumulative': 'Cumulative total', 'z.since': 'since {d}', 'z.today': 'Current shift', 'z.cash': 'Cash', 'z.cashless': 'Cashless', 'z.returns': 'Returns', 'z.all': '{n} more unsent', 'z.yes': 'yes', 'z.unsent': 'unsent: {n}', 'z.view': 'view', 'z.ofdLink': 'OFD', 'z.mismatch': 'differs from the gateway tally: {n}', 'z.byRegister': 'from the register', 'z.byGateway': 'from the gateway tally (the register gave no counters)', 'z.cashIn': 'Cash in', 'z.cashOut': 'Cash out', 'j.fnCopy': 'Copy from the FN', 'j.fnCopyTitle': 'Copy from the FN',
    'j.title': 'Receipts journal', 'j.search': 'external_id', 'j.status': 'Status', 'j.any': 'any', 'j.from': 'From', 'j.to': 'To', 'j.find': 'Search', 'j.more': 'More', 'j.empty': 'Nothing found.',
    'j.accepted': 'accepted', 'j.done': 'fiscalized', 'j.fail': 'failed', 'j.acceptedAt': 'Accepted', 'j.total': 'Total', 'j.fd': 'FD / FP', 'j.request': 'Request', 'j.result': 'Result', 'j.republish': 'Publish the result again', 'j.republished': 'Result published again.', 'j.back': '← journal', 'j.error': 'Error',
    'm.title': 'Manual receipt', 'm.operation': 'Operation', 'm.sell': 'Sale', 'm.sell_refund': 'Sale refund', 'm.external_id': 'external_id', 'm.sno': 'Tax system', 'm.email': 'Customer e-mail', 'm.phone': 'Customer phone', 'm.inn': 'Company INN', 'm.companyEmail': 'Shop e-mail (receipt sender)', 'm.address': 'Place of settlement',
    'm.items': 'Items', 'm.name': 'Name', 'm.price': 'Price, ₽', 'm.qty': 'Qty', 'm.sum': 'Sum, ₽', 'm.vat': 'VAT', 'm.method': 'Payment method', 'm.object': 'Object', 'm.addItem': '+ item', 'm.remove': '×',
    'm.payments': 'Payment', 'm.cash': 'Cash', 'm.card': 'Cashless', 'm.prepaid': 'Prepayment offset', 'm.credit': 'Credit', 'm.total': 'Total', 'm.submit': 'Register receipt', 'm.sending': 'Sending…',
    'm.accepted': 'Receipt queued, waiting for the register…', 'm.done': 'Receipt fiscalized: FD {fd}, FP {fp}, shift {shift}.', 'm.failed': 'Receipt not printed: {error}', 'm.rejected': 'Receipt refused: {error}', 'm.duplicate': 'This external_id exists already: {status}.',
    'logs.title': 'Logs', 'logs.level': 'Level', 'logs.refresh': 'Refresh', 'logs.empty': 'No lines.',
    'err.network': 'The gateway does not answer', 'err.throttled': 'Too many attempts, wait a minute', 'common.yes': 'yes', 'common.no': 'no',
    'setup.claimHint': 'So that nobody else on the shop\'s network can take the gateway, a one-time code is needed. Press “Print code”: the register prints a non-fiscal service slip with it (the code is also in the gateway\'s log, journalctl -u kkt-gateway). Valid 15 minutes, 5 tries.', 'setup.printCode': 'Print code', 'setup.codePrinted': 'The code is printed on the register (and in the log). Certificate fingerprint: {fp}', 'setup.codeLogged': 'The register did not print the code ({error}); it is in the gateway\'s log.', 'setup.code': 'Code from the slip', 'setup.username': 'Admin user name',
    'login.username': 'User', 'nav.users': 'Users', 'nav.audit': 'Audit', 'role.admin': 'admin', 'role.cashier': 'cashier',
    'u.title': 'Users', 'u.name': 'Name', 'u.role': 'Role', 'u.created': 'Created', 'u.add': 'Add', 'u.password': 'Password', 'u.remove': 'Remove', 'u.added': 'User added.', 'u.removed': 'User removed.', 'u.own': 'My password',
    'a.title': 'Audit log', 'a.time': 'Time', 'a.user': 'User', 'a.ip': 'Address', 'a.action': 'Action', 'a.outcome': 'Outcome', 'a.detail': 'Detail', 'a.csv': 'Download CSV', 'a.find': 'Show', 'a.empty': 'No entries.', 'a.any': 'any',
  },
};

const S = { lang: localStorage.getItem('lang') === 'en' ? 'en' : 'ru', csrf: '', session: null, events: null, status: null, timers: [] };

function t(key, vars) {
  let s = (DICT[S.lang] && DICT[S.lang][key]) || DICT.ru[key] || key;
  if (vars) for (const [k, v] of Object.entries(vars)) s = s.split(`{${k}}`).join(String(v));
  return s;
}

// ---------------------------------------------------------------------------------------------------- DOM helpers
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = Boolean(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}
const $main = () => document.getElementById('main');
function mount(...nodes) {
  const m = $main();
  m.replaceChildren(...nodes);
}
const pill = (cls, text) => h('span', { class: `pill ${cls}` }, text);
const dash = (v) => (v === undefined || v === null || v === '' ? t('status.unknown') : v);
function dl(rows) {
  return h('dl', {}, rows.filter(Boolean).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v instanceof Node ? v : dash(v))]));
}
function fmtTime(iso) {
  if (!iso) return t('status.unknown');
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(S.lang === 'ru' ? 'ru-RU' : 'en-GB');
}
function rub(v) {
  if (v === undefined || v === null) return t('status.unknown');
  return Number(v).toLocaleString(S.lang === 'ru' ? 'ru-RU' : 'en-GB', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}
/** kopecks (integer) → "1 234,56" */
function kop(v) {
  if (v === undefined || v === null) return t('status.unknown');
  const neg = v < 0;
  const a = Math.abs(v);
  const r = `${Math.floor(a / 100)}`.replace(/\B(?=(\d{3})+(?!\d))/g, '\u00a0');
  return `${neg ? '−' : ''}${r}${S.lang === 'ru' ? ',' : '.'}${String(a % 100).padStart(2, '0')}`;
}
function errText(e) {
  if (!e) return '';
  return [e.code, e.text || e.message].filter(Boolean).join(': ') + (e.field ? ` (${e.field})` : '');
}

// ---------------------------------------------------------------------------------------------------- API
async function api(method, url, body) {
  const headers = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && S.csrf) headers['x-csrf-token'] = S.csrf;
  let res;
  try {
    res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  } catch {
    return { ok: false, status: 0, data: { error: { code: 'NETWORK', message: t('err.network') } } };
  }
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (res.status === 401 && !url.startsWith('/api/login') && !url.startsWith('/api/password')) {
    await boot();
  }
  if (res.status === 429) data = { error: { code: 'THROTTLED', message: t('err.throttled') } };
  return { ok: res.ok, status: res.status, data };
}

// ---------------------------------------------------------------------------------------------------- shell
function applyLang() {
  document.documentElement.lang = S.lang;
  document.getElementById('lang').textContent = S.lang === 'ru' ? 'EN' : 'RU';
  for (const el of document.querySelectorAll('[data-t]')) el.textContent = t(el.dataset.t);
}

function stopLive() {
  if (S.events) S.events.close();
  S.events = null;
  for (const x of S.timers) clearInterval(x);
  S.timers = [];
}

function banner(text, info) {
  const b = document.getElementById('banner');
  b.hidden = !text;
  b.className = info ? 'banner info' : 'banner';
  b.textContent = text || '';
}

async function boot() {
  const r = await api('GET', '/api/session');
  if (!r.ok) {
    mount(h('p', { class: 'bad' }, t('err.network')));
    return;
  }
  S.session = r.data;
  S.csrf = r.data.csrf || '';
  applyLang();
  const top = document.getElementById('top');
  if (r.data.setup_required) {
    top.hidden = true;
    stopLive();
    return renderSetup();
  }
  if (!r.data.authenticated) {
    top.hidden = true;
    stopLive();
    return renderLogin();
  }
  top.hidden = false;
  // a cashier sees only the pages she may use
  for (const a of document.querySelectorAll('#nav a[data-admin]')) a.hidden = r.data.role !== 'admin';
  document.getElementById('whoami').textContent = r.data.user ? `${r.data.user} (${t(`role.${r.data.role}`)})` : '';
  banner(r.data.safe_mode ? t('safe.banner') : '');
  if (!location.hash || location.hash === '#/login') location.hash = r.data.safe_mode ? '#/settings' : '#/status';
  await kktPool.load();
  route();
}

function route() {
  if (!S.session || !S.session.authenticated) return;
  stopLive();
  const page = (location.hash.replace(/^#\//, '').split('/')[0]) || 'status';
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.page === page);
  const pages = { status: renderStatus, settings: renderSettings, zreports: renderZReports, journal: renderJournal, receipt: renderReceipt, manual: renderManual, logs: renderLogs, users: renderUsers, audit: renderAudit };
  (pages[page] || renderStatus)();
}

// ---------------------------------------------------------------------------------------------------- login / setup
function fieldRow(label, input, id) {
  return h('div', { class: 'row' }, h('label', { for: id }, label), h('div', {}, input, h('div', { class: 'field-error', id: `${id}-error` })));
}

function renderSetup() {
  const code = h('input', { type: 'text', id: 'setup-code', autocomplete: 'one-time-code', inputmode: 'numeric', required: true, placeholder: '1234-5678' });
  const user = h('input', { type: 'text', id: 'setup-username', autocomplete: 'username', value: 'admin', required: true });
  const codeOut = h('div', { class: 'result', id: 'setup-code-result' });
  const printBtn = h('button', { type: 'button', class: 'secondary', id: 'setup-print-code' }, t('setup.printCode'));
  printBtn.addEventListener('click', async () => {
    printBtn.disabled = true;
    const r = await api('POST', '/api/setup/code', {});
    printBtn.disabled = false;
    if (!r.ok) return void codeOut.replaceChildren(pill('bad', errText(r.data && r.data.error)));
    codeOut.replaceChildren(r.data.printed === 'queued' ? pill('ok', t('setup.codePrinted', { fp: r.data.fingerprint || '—' })) : pill('warn', t('setup.codeLogged', { error: r.data.error || '' })));
  });
  const p1 = h('input', { type: 'password', id: 'setup-password', autocomplete: 'new-password', required: true, minlength: 8 });
  const p2 = h('input', { type: 'password', id: 'setup-repeat', autocomplete: 'new-password', required: true, minlength: 8 });
  const msg = h('div', { class: 'field-error', id: 'setup-msg' });
  const form = h('form', { class: 'card login', id: 'setup-form', novalidate: true },
    h('h1', {}, t('setup.title')), h('p', { class: 'hint' }, t('setup.claimHint')), h('p', {}, printBtn), codeOut,
    fieldRow(t('setup.code'), code, 'setup-code'), fieldRow(t('setup.username'), user, 'setup-username'), h('p', { class: 'hint' }, t('setup.hint')),
    fieldRow(t('setup.password'), p1, 'setup-password'), fieldRow(t('setup.repeat'), p2, 'setup-repeat'), msg,
    h('button', { type: 'submit' }, t('setup.submit')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (p1.value !== p2.value) return void (msg.textContent = t('setup.mismatch'));
    const r = await api('POST', '/api/setup', { code: code.value.trim(), username: user.value.trim(), password: p1.value });
    if (!r.ok) return void (msg.textContent = errText(r.data && r.data.error));
    location.hash = '#/status';
    await boot();
  });
  mount(form);
  code.focus();
}

function renderLogin() {
  const u = h('input', { type: 'text', id: 'login-username', autocomplete: 'username', value: localStorage.getItem('user') || 'admin', required: true });
  const p = h('input', { type: 'password', id: 'login-password', autocomplete: 'current-password', required: true });
  const msg = h('div', { class: 'field-error', id: 'login-msg' });
  const form = h('form', { class: 'card login', id: 'login-form' }, h('h1', {}, t('login.title')), fieldRow(t('login.username'), u, 'login-username'), fieldRow(t('login.password'), p, 'login-password'), msg, h('button', { type: 'submit' }, t('login.submit')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const r = await api('POST', '/api/login', { username: u.value.trim(), password: p.value });
    if (r.ok) localStorage.setItem('user', u.value.trim());
    if (!r.ok) return void (msg.textContent = errText(r.data && r.data.error));
    await boot();
  });
  mount(form);
  p.focus();
}

// ---------------------------------------------------------------------------------------------------- status
function level(l) {
  return l === 'critical' ? 'bad' : l === 'warn' ? 'warn' : 'ok';
}

/** «Закрепить протокол»: saves the protocol that answered as `device.protocol` (no more asking at every open) */
function pinBox(reg) {
  if (reg.protocol_setting !== 'auto' || !reg.protocol) return '';
  // the outcome outlives the live re-renders of the status page
  const show = (o) => o ? pill(o.ok ? 'ok' : 'bad', o.text) : '';
  const out = h('span', { class: 'result', id: 'pin-result' }, show(S.pinResult));
  const btn = h('button', { type: 'button', id: 'pin-protocol' }, t('status.pin').replace('{p}', reg.protocol));
  btn.addEventListener('click', async () => {
    const cr = await api('GET', `/api/config${kktPool.query()}`);
    if (!cr.ok) S.pinResult = { ok: false, text: errText(cr.data && cr.data.error) };
    else {
      const cfg = cr.data.config || {};
      cfg.device = { ...(cfg.device || {}), protocol: reg.protocol };
      const r = await api('PUT', '/api/config', kktPool.body({ config: cfg }));
      S.pinResult = r.ok ? { ok: true, text: t('status.pinned') } : { ok: false, text: errText(r.data && r.data.error) };
    }
    const now = document.getElementById('pin-result');
    if (now) now.replaceChildren(show(S.pinResult));
  });
  return h('p', {}, btn, ' ', out);
}

function statusView(st, checkBox) {
  const hl = st.health;
  const cards = [];
  if (st.safe_mode) {
    cards.push(h('div', { class: 'card' }, h('h2', { class: 'bad' }, t('safe.banner')), h('ul', {}, st.safe_mode.problems.map((p) => h('li', {}, `${p.field}: ${p.message}`)))));
  }
  if (hl) {
    const reg = hl.register || {};
    cards.push(h('div', { class: 'card', id: 'card-register' }, h('h2', {}, t('status.register')), dl([
      [t('status.link'), pill(reg.link === 'up' ? 'ok' : 'bad', reg.link === 'up' ? t('status.up') : t('status.down'))],
      [t('status.lastOk'), fmtTime(reg.last_ok)],
      [t('status.model'), reg.model], [t('status.serial'), reg.serial], [t('status.protocol'), reg.protocol && (reg.protocol_setting === 'auto' ? `${reg.protocol} (${t('status.protocolAuto')})` : reg.protocol)],
      reg.error && [t('status.linkError'), reg.error],
      [t('status.paper'), hl.paper === null || hl.paper === undefined ? null : pill(hl.paper === 'ok' || hl.paper === true ? 'ok' : 'bad', hl.paper === 'ok' || hl.paper === true ? t('status.paperOk') : t('status.paperOut'))],
      [t('status.cover'), hl.cover_open === null || hl.cover_open === undefined ? null : hl.cover_open ? pill('bad', t('status.coverOpen')) : t('status.coverClosed')],
    ]), pinBox(reg), checkBox));
    const sh = hl.shift;
    const sc = hl.shift_clock;
    cards.push(h('div', { class: 'card', id: 'card-shift' }, h('h2', {}, t('status.shift')), dl([
      [t('status.shiftNumber'), sh && sh.number], [t('status.shiftState'), sh ? pill(sh.state === 'open' ? 'ok' : sh.state === 'expired' ? 'bad' : 'warn', t(`shift.${sh.state}`)) : null],
      [t('status.receipts'), sh && sh.receipts],
      [t('status.openedAt'), sc && sc.opened_at.replace('T', ' ')], [t('status.hoursLeft'), sc && sc.hours_left_24h], [t('status.nextClose'), sc && sc.next_close.replace('T', ' ')],
    ])));
    const fn = hl.fn;
    const fw = hl.fn_watch;
    cards.push(h('div', { class: 'card', id: 'card-fn' }, h('h2', {}, t('status.fn')), dl([
      [t('status.fnNumber'), fn && fn.number], [t('status.lastFd'), fn && fn.last_fd],
      [t('status.fnExpiry'), fw ? h('span', {}, dash(fw.expiry), ' ', fw.days_left !== null ? pill(level(fw.expiry_level), `${fw.days_left} ${t('status.daysLeft')}`) : '') : fn && fn.expiry],
      [t('status.unsent'), fw && fw.ofd ? pill(level(fw.ofd.level), String(dash(fw.ofd.unsent_count))) : fn && fn.unsent_count],
      [t('status.oldestUnsent'), fw && fw.ofd ? fw.ofd.oldest_unsent : fn && fn.unsent_since],
    ])));
    const rg = hl.registration;
    if (rg) {
      const modes = rg.register && rg.register.modes ? Object.entries(rg.register.modes).filter(([, v]) => v).map(([k]) => t(`mode.${k}`)).join(', ') : null;
      const zc = hl.zreport_check;
      cards.push(h('div', { class: 'card', id: 'card-registration' }, h('h2', {}, t('status.registration')), dl([
        [t('status.inn'), rg.inn], [t('status.rn'), rg.registration_number && `${rg.registration_number}${rg.source && rg.source.registrationNumber === 'config' ? ` (${t('status.fromConfig')})` : ''}`],
        [t('status.sno'), (rg.tax_systems || []).map((x) => t(`sno.${x}`)).join(', ')], [t('status.modes'), modes || (rg.register ? '—' : null)],
        ...(rg.warnings || []).map((w) => ['', h('span', { class: 'warn' }, w)]),
        zc && zc.mismatch && zc.mismatch.length ? [t('status.zMismatch'), pill('warn', zc.mismatch.map((m) => `${m.field}: ${m.register} ≠ ${m.gateway}`).join('; '))] : null,
      ])));
    }
    cards.push(h('div', { class: 'card', id: 'card-mqtt' }, h('h2', {}, t('status.mqtt')), dl([
      [t('status.connected'), pill(hl.mqtt.connected ? 'ok' : 'bad', hl.mqtt.connected ? t('common.yes') : t('common.no'))], [t('status.broker'), hl.mqtt.broker],
    ])));
    const q = hl.queue;
    cards.push(h('div', { class: 'card', id: 'card-queue' }, h('h2', {}, t('status.queue')), dl([
      [t('status.depth'), q.depth], [t('status.oldestAge'), q.oldest_age_s], [t('status.outbox'), q.outbox],
      q.blocked && [t('status.blocked'), pill('bad', `${q.blocked.code}: ${q.blocked.message}`)],
    ])));
    if (hl.clock) cards.push(h('div', { class: 'card' }, h('h2', {}, t('status.clock')), dl([[t('status.drift'), hl.clock.drift_s], hl.clock.warning && ['', hl.clock.warning]])));
  }
  const errs = st.last_errors || [];
  cards.push(h('div', { class: 'card', id: 'card-errors' }, h('h2', {}, t('status.errors')),
    errs.length === 0 ? h('p', { class: 'muted' }, t('status.noErrors')) : h('ul', {}, errs.slice().reverse().map((l) => h('li', {}, `${l.time ? fmtTime(l.time) : ''} ${l.msg || ''}${l.err && l.err.message ? ` — ${l.err.message}` : ''}`)))));
  return h('div', { class: 'grid' }, cards);
}

function renderStatus() {
  const checkOut = h('div', { class: 'result', id: 'check-result' });
  const checkBtn = h('button', { type: 'button', id: 'check-link' }, t('status.check'));
  checkBtn.addEventListener('click', async () => {
    checkBtn.disabled = true;
    checkOut.textContent = t('status.checking');
    const r = await api('POST', '/api/check', kktPool.body());
    checkBtn.disabled = false;
    if (!r.ok) return void (checkOut.replaceChildren(pill('bad', errText(r.data && r.data.error))));
    const c = r.data;
    checkOut.replaceChildren(c.ok ? pill('ok', t('status.checkOk', { ms: c.ms })) : pill('bad', t('status.checkFail', { error: c.error })),
      c.ok && c.info ? dl([[t('status.model'), c.info.model], [t('status.serial'), c.info.serial], [t('status.fnNumber'), c.info.fnNumber], ['INN', c.info.inn], ['firmware', c.info.firmware]]) : '');
  });
  const checkBox = h('div', {}, h('p', {}), checkBtn, checkOut);
  const holder = h('div', { id: 'status-cards' });
  mount(h('h1', {}, t('status.title'), kktPool.titleSuffix()), holder);
  const paint = (st) => {
    S.status = st;
    if (st.health) document.getElementById('gw-id').textContent = `${st.health.gateway_id} · ${st.health.version}`;
    holder.replaceChildren(statusView(kktPool.statusFor(st), checkBox));
  };
  api('GET', '/api/status').then((r) => r.ok && paint(r.data));
  const es = new EventSource('/api/events');
  es.addEventListener('status', (ev) => paint(JSON.parse(ev.data)));
  S.events = es;
}

// ---------------------------------------------------------------------------------------------------- settings
const SNO = ['osn', 'usn_income', 'usn_income_outcome', 'envd', 'esn', 'patent'];
const BAUDS = [2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600];
const FIELDS = [
  ['settings.mqtt', [['mqtt.url', 'text'], ['mqtt.client_id', 'text'], ['mqtt.base_topic', 'text'], ['mqtt.protocol_version', 'select', [4, 5]], ['mqtt.username', 'text'], ['mqtt.password', 'secret'], ['mqtt.ca', 'text'], ['mqtt.cert', 'text'], ['mqtt.key', 'text']]],
  ['settings.device', [['device.name', 'text'], ['device.port', 'port'], ['device.protocol', 'select', ['auto', 'shtrih', 'atol']], ['device.baud_rate', 'select', BAUDS], ['device.password', 'secret-int']]],
  ['settings.fiscal', [['fiscal.tax_systems', 'multi', SNO], ['fiscal.company_inn', 'text'], ['fiscal.registration_number', 'text'], ['fiscal.cashier.name', 'text'], ['fiscal.cashier.inn', 'text'], ['fiscal.require_customer_contact', 'bool']]],
  ['settings.shift', [['shift.close_at', 'text'], ['shift.max_hours', 'number']]],
  ['settings.queue', [['queue.max_receipts', 'int'], ['queue.retention_days', 'int']]],
  ['settings.web', [['web.host', 'text'], ['web.port', 'int']]],
];

function getPath(o, p) {
  return p.split('.').reduce((a, k) => (a === undefined || a === null ? undefined : a[k]), o);
}
function setPath(o, p, v) {
  const ks = p.split('.');
  let cur = o;
  for (const k of ks.slice(0, -1)) {
    if (typeof cur[k] !== 'object' || cur[k] === null) cur[k] = {};
    cur = cur[k];
  }
  const last = ks[ks.length - 1];
  if (v === undefined) delete cur[last];
  else cur[last] = v;
}
const inputId = (p) => `f-${p.replace(/\./g, '-')}`;

function makeInput(path, kind, opts, value, ports) {
  const id = inputId(path);
  if (kind === 'select') return h('select', { id, dataset: { path, kind } }, opts.map((o) => h('option', { value: String(o), selected: String(value) === String(o) }, String(o))));
  if (kind === 'multi') {
    const vals = Array.isArray(value) ? value : [];
    return h('div', { id, dataset: { path, kind } }, opts.map((o) => h('label', { class: 'choice' }, h('input', { type: 'checkbox', value: o, checked: vals.includes(o) }), ' ', t(`sno.${o}`))));
  }
  if (kind === 'bool') return h('input', { type: 'checkbox', id, dataset: { path, kind }, checked: Boolean(value) });
  if (kind === 'secret' || kind === 'secret-int') {
    return h('input', { type: 'password', id, autocomplete: 'new-password', placeholder: value !== undefined ? t('settings.secretKeep') : '', dataset: { path, kind, had: value !== undefined ? '1' : '' } });
  }
  if (kind === 'port') {
    const input = h('input', { type: 'text', id, dataset: { path, kind: 'text' }, value: value ?? '' });
    const sel = h('select', { id: 'port-select' }, h('option', { value: '' }, ports.length ? t('settings.detected') : t('settings.noPorts')),
      ports.map((p) => h('option', { value: p.byId || p.path }, `${p.byId || p.path}${p.vendorId ? ` (${p.vendorId}:${p.productId || ''})` : ''}${p.note ? ` — ${p.note}` : p.manufacturer ? ` — ${p.manufacturer}` : ''}`)));
    sel.addEventListener('change', () => {
      if (sel.value) input.value = sel.value;
    });
    return h('div', {}, sel, h('div', { class: 'hint' }, t('settings.typed')), input);
  }
  const type = kind === 'int' || kind === 'number' ? 'number' : 'text';
  return h('input', { type, id, step: kind === 'number' ? 'any' : undefined, dataset: { path, kind }, value: value === undefined || value === null ? '' : String(value) });
}

function readForm(form, base) {
  const cfg = JSON.parse(JSON.stringify(base || {}));
  for (const el of form.querySelectorAll('[data-path]')) {
    const { path, kind } = el.dataset;
    let v;
    if (kind === 'multi') v = [...el.querySelectorAll('input:checked')].map((i) => i.value);
    else if (kind === 'bool') v = el.checked;
    else if (kind === 'secret' || kind === 'secret-int') {
      if (el.value === '') v = el.dataset.had ? '***' : undefined;
      else v = kind === 'secret-int' && /^\d+$/.test(el.value) ? Number(el.value) : el.value;
    } else if (kind === 'int' || kind === 'number' || (kind === 'select' && /^\d+$/.test(el.value))) v = el.value === '' ? undefined : Number(el.value);
    else v = el.value.trim() === '' ? undefined : el.value.trim();
    setPath(cfg, path, v);
  }
  const cashier = getPath(cfg, 'fiscal.cashier');
  if (cashier && !cashier.name) delete cfg.fiscal.cashier;
  return cfg;
}

function showProblems(form, problems) {
  for (const el of form.querySelectorAll('.field-error')) el.textContent = '';
  for (const el of form.querySelectorAll('.invalid')) el.classList.remove('invalid');
  const unplaced = [];
  for (const p of problems || []) {
    const field = String(p.field || '').replace(/\[\d+\]$/, '');
    const err = document.getElementById(`${inputId(field)}-error`);
    const input = document.getElementById(inputId(field));
    if (err) {
      err.textContent = p.message;
      if (input) input.classList.add('invalid');
    } else unplaced.push(`${p.field}: ${p.message}`);
  }
  return unplaced;
}

async function renderSettings() {
  const [cr, pr] = await Promise.all([api('GET', `/api/config${kktPool.query()}`), api('GET', '/api/ports')]);
  if (!cr.ok) return mount(h('p', { class: 'bad' }, errText(cr.data && cr.data.error)));
  const base = cr.data.config || {};
  const ports = (pr.ok && pr.data.ports) || [];
  const out = h('div', { class: 'result', id: 'settings-result' });
  const form = h('form', { id: 'settings-form', novalidate: true },
    FIELDS.map(([legend, fields]) => h('fieldset', {}, h('legend', {}, t(legend)),
      fields.map(([path, kind, opts]) => fieldRow(t(`f.${path}`), makeInput(path, kind, opts, getPath(base, path), ports), inputId(path))))),
    h('button', { type: 'submit', id: 'settings-save' }, t('settings.save')), out);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    out.textContent = '';
    const r = await api('PUT', '/api/config', kktPool.body({ config: readForm(form, base) }));
    if (!r.ok) {
      const unplaced = showProblems(form, r.data && r.data.error && r.data.error.problems);
      out.replaceChildren(pill('bad', t('settings.errors')), unplaced.length ? h('ul', {}, unplaced.map((u) => h('li', {}, u))) : '', r.data && r.data.error && !r.data.error.problems ? errText(r.data.error) : '');
      return;
    }
    showProblems(form, []);
    savedReport(out, r.data);
  });

  const restoreInput = h('input', { type: 'file', accept: 'application/json,.json', id: 'restore-file', hidden: true });
  restoreInput.addEventListener('change', async () => {
    const file = restoreInput.files && restoreInput.files[0];
    if (!file) return;
    let parsed;
    try {
      parsed = JSON.parse(await file.text());
    } catch (e) {
      return void out.replaceChildren(pill('bad', String(e.message)));
    }
    const r = await api('POST', '/api/config/restore', parsed);
    if (!r.ok) {
      const unplaced = showProblems(form, r.data && r.data.error && r.data.error.problems);
      return void out.replaceChildren(pill('bad', t('settings.errors')), h('ul', {}, unplaced.map((u) => h('li', {}, u))));
    }
    savedReport(out, r.data);
  });
  const backup = h('div', { class: 'card spaced' }, h('a', { class: 'button', href: '/api/config/backup', download: '', id: 'backup-link' }, t('settings.backup')), ' ',
    h('button', { type: 'button', class: 'secondary', id: 'restore-button', onclick: () => restoreInput.click() }, t('settings.restore')), restoreInput, h('p', { class: 'hint' }, t('settings.backupHint')));

  const cur = h('input', { type: 'password', id: 'pw-current', autocomplete: 'current-password' });
  const nw = h('input', { type: 'password', id: 'pw-new', autocomplete: 'new-password' });
  const pwOut = h('div', { class: 'result' });
  const pwForm = h('form', { id: 'password-form' }, h('fieldset', {}, h('legend', {}, t('settings.password')), fieldRow(t('settings.currentPassword'), cur, 'pw-current'), fieldRow(t('settings.newPassword'), nw, 'pw-new'),
    h('button', { type: 'submit', class: 'secondary' }, t('settings.changePassword')), pwOut));
  pwForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const r = await api('POST', '/api/password', { current: cur.value, password: nw.value });
    if (!r.ok) return void pwOut.replaceChildren(pill('bad', errText(r.data && r.data.error)));
    S.csrf = r.data.csrf;
    cur.value = nw.value = '';
    pwOut.replaceChildren(pill('ok', t('settings.passwordChanged')));
  });
  mount(h('h1', {}, t('settings.title')), h('p', { class: 'hint' }, cr.data.file || ''), backup, form, pwForm);
}

function savedReport(out, d) {
  const parts = [pill('ok', t('settings.saved'))];
  if (d.applied.length === 0 && d.restart.length === 0) parts.push(' ', t('settings.nothing'));
  if (d.applied.length) parts.push(h('p', {}, t('settings.applied', { list: d.applied.join(', ') })));
  if (d.restart.length) {
    const btn = h('button', { type: 'button', id: 'restart-now' }, t('settings.restartNow'));
    btn.addEventListener('click', async () => {
      const r = await api('POST', '/api/restart');
      if (!r.ok) return void btn.replaceWith(pill('bad', errText(r.data && r.data.error)));
      btn.replaceWith(t('settings.restarting'));
      setTimeout(function wait() {
        fetch('/api/session').then(() => location.reload(), () => setTimeout(wait, 2000));
      }, 4000);
    });
    parts.push(h('p', { class: 'warn' }, t('settings.restart', { list: d.restart.join(', ') })), btn);
  }
  out.replaceChildren(...parts);
}

// ---------------------------------------------------------------------------------------------------- Z-reports
function zRow(z) {
  const sum = z.total;
  const unsent = z.ofd_unsent && z.ofd_unsent.count;
  return h('tr', {},
    h('td', { class: 'num' }, dash(z.shift_number)), h('td', {}, dash(z.closed_at || z.datetime)),
    h('td', {}, unsent ? pill('warn', t('z.unsent', { n: unsent })) : unsent === 0 ? pill('ok', t('z.yes')) : t('status.unknown')),
    h('td', { class: 'num' }, dash(z.receipts_count)), h('td', { class: 'num' }, rub(sum)),
    h('td', {}, dash(z.fn_number)), h('td', {}, dash(z.registration_number)), h('td', {}, (z.tax_systems || []).map((s) => t(`sno.${s}`)).join(', ')),
    h('td', {}, h('a', { href: `#/zreports/${z.fiscal_document_number}` }, t('z.view')),
      z.link ? [' · ', h('a', { href: z.link, target: '_blank', rel: 'noopener noreferrer', class: 'z-ofd-link' }, t('z.ofdLink'))] : '',
      z.mismatch && z.mismatch.length ? [' ', pill('warn', t('z.mismatch', { n: z.mismatch.length }))] : '',
      z.figures_source === 'gateway' ? [' ', h('span', { class: 'muted' }, t('z.byGateway'))] : ''));
}

async function renderZReports() {
  const r = await api('GET', `/api/zreports${kktPool.query()}`);
  if (!r.ok) return mount(h('p', { class: 'bad' }, errText(r.data && r.data.error)));
  const { reports, book, register } = r.data;
  const detail = location.hash.split('/')[2];
  const out = h('div', { class: 'result', id: 'z-result' });
  const add = h('button', { type: 'button', id: 'z-add' }, t('z.add'));
  add.addEventListener('click', async () => {
    add.disabled = true;
    out.replaceChildren(t('z.adding'));
    const q = await api('POST', '/api/zreports', kktPool.body());
    if (!q.ok) {
      add.disabled = false;
      return void out.replaceChildren(pill('bad', errText(q.data && q.data.error)));
    }
    out.replaceChildren(t('z.queued'));
    const id = q.data.id;
    const poll = setInterval(async () => {
      const s = await api('GET', `/api/receipts/${encodeURIComponent(id)}`);
      if (!s.ok || s.data.status === 'accepted') return;
      clearInterval(poll);
      add.disabled = false;
      const res = s.data.result || {};
      if (s.data.status === 'done') {
        const n = res.data ? res.data.shift_number : undefined;
        await renderZReports();
        const o = document.getElementById('z-result');
        if (o) o.replaceChildren(pill('ok', t('z.added', { n: dash(n) })));
      } else out.replaceChildren(pill('bad', t('z.failed', { error: errText(res.error) })));
    }, 700);
    S.timers.push(poll);
  });
  // the register's own counters when it gave them; the gateway's tally otherwise, marked as such
  let cumulative = book && book.cumulative ? book.cumulative.sell - book.cumulative.sell_refund - book.cumulative.buy + book.cumulative.buy_refund : null;
  const tally = book && book.tally ? book.tally.ops : null;
  const today = register
    ? { counts: register.counts, sums: register.sums }
    : tally ? { counts: Object.fromEntries(Object.entries(tally).map(([k, o]) => [k, o.count])), sums: Object.fromEntries(Object.entries(tally).map(([k, o]) => [k, o.payments])) } : null;
  if (register && register.cumulative) cumulative = register.cumulative.sell - register.cumulative.sell_refund - register.cumulative.buy + register.cumulative.buy_refund;
  const opSum = (p) => p.cash + p.electronic + p.prepaid + p.credit + p.other;
  const cashToday = today ? today.sums.sell.cash - today.sums.sell_refund.cash : null;
  const cashlessToday = today ? today.sums.sell.electronic - today.sums.sell_refund.electronic : null;
  const source = h('div', { class: 'muted', id: 'z-source' }, register ? t('z.byRegister') : t('z.byGateway'));
  const totals = h('div', { class: 'totals' },
    h('div', { class: 'card', id: 'z-cumulative' }, h('div', { class: 'muted' }, t('z.cumulative'), !(register && register.cumulative) && book && book.since ? ` ${t('z.since', { d: book.since.replace('T', ' ') })}` : ''), h('div', { class: 'big' }, kop(cumulative ?? 0))),
    h('div', { class: 'card', id: 'z-today' }, h('div', { class: 'muted' }, t('z.today'), register && register.shiftNumber ? ` № ${register.shiftNumber}` : !register && tally ? ` № ${book.tally.shift}` : ''), dl([
      [t('z.cash'), kop(cashToday ?? 0)], [t('z.cashless'), kop(cashlessToday ?? 0)],
      [t('z.returns'), today ? `${today.counts.sell_refund} / ${kop(opSum(today.sums.sell_refund))}` : '0'],
      [t('z.count'), today ? today.counts.sell + today.counts.sell_refund + today.counts.buy + today.counts.buy_refund : 0],
      register && [t('z.cashIn'), kop(register.cashIn)], register && [t('z.cashOut'), kop(register.cashOut)],
    ]), source));
  const table = reports.length === 0 ? h('p', { class: 'muted', id: 'z-empty' }, t('z.empty')) : h('table', { id: 'z-table' },
    h('thead', {}, h('tr', {}, ['z.number', 'z.date', 'z.ofd', 'z.count', 'z.sum', 'z.fn', 'z.reg', 'z.sno', 'z.link'].map((k) => h('th', { class: k === 'z.count' || k === 'z.sum' || k === 'z.number' ? 'num' : '' }, t(k))))),
    h('tbody', {}, reports.map(zRow)));
  const shown = detail ? reports.find((z) => String(z.fiscal_document_number) === detail) : null;
  mount(h('h1', {}, t('z.title'), kktPool.titleSuffix()), totals, h('div', { class: 'toolbar' }, add), out, table, shown ? h('pre', { id: 'z-detail' }, JSON.stringify(shown, null, 2)) : '');
}

// ---------------------------------------------------------------------------------------------------- journal
const statusPill = (s) => pill(s === 'done' ? 'ok' : s === 'fail' ? 'bad' : 'warn', t(`j.${s}`));

async function renderJournal() {
  const params = new URLSearchParams(location.hash.split('?')[1] || '');
  const search = h('input', { type: 'search', id: 'j-search', value: params.get('search') || '', placeholder: 'order-…' });
  const status = h('select', { id: 'j-status' }, ['', 'accepted', 'done', 'fail'].map((s) => h('option', { value: s, selected: params.get('status') === s }, s ? t(`j.${s}`) : t('j.any'))));
  const from = h('input', { type: 'date', id: 'j-from', value: params.get('from') || '' });
  const to = h('input', { type: 'date', id: 'j-to', value: params.get('to') || '' });
  const body = h('tbody', {});
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, t('j.more'));
  const empty = h('p', { class: 'muted', hidden: true }, t('j.empty'));
  let next = null;
  const load = async (append) => {
    const q = new URLSearchParams();
    if (search.value) q.set('search', search.value);
    if (status.value) q.set('status', status.value);
    if (from.value) q.set('from', from.value);
    if (to.value) q.set('to', to.value);
    if (append && next) q.set('before', next);
    const r = await api('GET', `/api/receipts?${q}`);
    if (!r.ok) return;
    if (!append) body.replaceChildren();
    for (const rec of r.data.records) {
      const p = rec.result && rec.result.payload;
      body.append(h('tr', { dataset: { id: rec.external_id } },
        h('td', {}, h('a', { href: `#/receipt/${encodeURIComponent(rec.external_id)}` }, rec.external_id)), h('td', {}, statusPill(rec.status)),
        h('td', {}, fmtTime(rec.accepted_at)), h('td', { class: 'num' }, p && p.total !== undefined ? rub(p.total) : ''),
        h('td', {}, p && p.fiscal_document_number ? `${p.fiscal_document_number} / ${p.fiscal_document_attribute}` : rec.result && rec.result.error ? errText(rec.result.error) : ''), kktPool.journalCell(rec)));
    }
    next = r.data.next;
    more.hidden = !next;
    empty.hidden = body.children.length > 0;
  };
  more.addEventListener('click', () => load(true));
  const form = h('form', { class: 'toolbar', id: 'journal-form' }, h('label', {}, t('j.search'), search), h('label', {}, t('j.status'), status), h('label', {}, t('j.from'), from), h('label', {}, t('j.to'), to), h('button', { type: 'submit' }, t('j.find')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void load(false);
  });
  mount(h('h1', {}, t('j.title')), form, h('table', { id: 'journal' }, h('thead', {}, h('tr', {}, [t('j.search'), t('j.status'), t('j.acceptedAt'), t('j.total'), t('j.fd')].map((x) => h('th', {}, x)), kktPool.journalHead())), body), empty, more);
  await load(false);
  // the journal follows new receipts while it is open
  S.timers.push(setInterval(() => {
    if (!next || body.children.length <= 50) void load(false);
  }, 3000));
}

async function renderReceipt() {
  const id = decodeURIComponent(location.hash.split('/').slice(2).join('/'));
  const r = await api('GET', `/api/receipts/${encodeURIComponent(id)}`);
  const back = h('a', { href: '#/journal' }, t('j.back'));
  if (!r.ok) return mount(back, h('p', { class: 'bad' }, errText(r.data && r.data.error)));
  const d = r.data;
  const p = d.result && d.result.payload;
  const out = h('div', { class: 'result' });
  const rep = h('button', { type: 'button', class: 'secondary', id: 'republish', disabled: !d.result || d.status === 'accepted' }, t('j.republish'));
  rep.addEventListener('click', async () => {
    const x = await api('POST', `/api/receipts/${encodeURIComponent(id)}/republish`);
    out.replaceChildren(x.ok ? pill('ok', t('j.republished')) : pill('bad', errText(x.data && x.data.error)));
  });
  const copyOut = h('pre', { id: 'receipt-fn-copy', class: 'hidden' });
  const copyBtn = h('button', { type: 'button', class: 'secondary', id: 'fn-copy', disabled: d.status !== 'done' || !p }, t('j.fnCopy'));
  copyBtn.addEventListener('click', async () => {
    const x = await api('GET', `/api/receipts/${encodeURIComponent(id)}/fn-copy`);
    copyOut.classList.remove('hidden');
    copyOut.textContent = x.ok ? JSON.stringify(x.data.copy, null, 2) : errText(x.data && x.data.error);
  });
  mount(back, h('h1', {}, d.external_id, ' ', statusPill(d.status)),
    h('div', { class: 'grid' },
      h('div', { class: 'card', id: 'receipt-summary' }, dl([
        [t('j.acceptedAt'), fmtTime(d.accepted_at)], [t('j.total'), p ? rub(p.total) : null], ['ФД / FD', p && p.fiscal_document_number], ['ФП / FP', p && p.fiscal_document_attribute],
        d.result && d.result.device && [kktPool.tr('column'), kktPool.deviceName(d.result.device)], ['ФН / FN', p && p.fn_number], ['РН ККТ / RN', p && p.ecr_registration_number], [t('status.shift'), p && p.shift_number], ['QR', p && p.qr],
        p && p.link && [t('z.ofdLink'), h('a', { href: p.link, target: '_blank', rel: 'noopener noreferrer', id: 'receipt-link' }, p.link)],
        d.result && d.result.error && [t('j.error'), errText(d.result.error)],
      ]), h('p', {}), rep, ' ', copyBtn, out),
      d.qr_image ? h('div', { class: 'card' }, h('img', { class: 'qr', id: 'receipt-qr', src: d.qr_image, alt: 'QR', width: 220, height: 220 })) : ''),
    h('h2', { class: 'spaced-top' }, t('j.request')), h('pre', { id: 'receipt-request' }, JSON.stringify(d.request, null, 2)),
    h('h2', {}, t('j.result')), h('pre', { id: 'receipt-result' }, JSON.stringify(d.result, null, 2)),
    h('h2', {}, t('j.fnCopyTitle')), copyOut);
}

// ---------------------------------------------------------------------------------------------------- manual receipt
/** "12,50" / "12.5" → 1250 kopecks (integers only; NaN when not a money amount) */
function toKop(s) {
  const m = /^\s*(\d{1,9})(?:[.,](\d{1,2}))?\s*$/.exec(String(s));
  return m ? Number(m[1]) * 100 + Number((m[2] || '').padEnd(2, '0')) : NaN;
}
/** "1,5" → 1500 thousandths */
function toMilli(s) {
  const m = /^\s*(\d{1,6})(?:[.,](\d{1,3}))?\s*$/.exec(String(s));
  return m ? Number(m[1]) * 1000 + Number((m[2] || '').padEnd(3, '0')) : NaN;
}
const kopToRub = (k) => Number(`${Math.floor(k / 100)}.${String(k % 100).padStart(2, '0')}`);
const milliToNum = (m) => Number(`${Math.floor(m / 1000)}.${String(m % 1000).padStart(3, '0')}`);

function nowStamp() {
  const d = new Date();
  const two = (n) => String(n).padStart(2, '0');
  return `${two(d.getDate())}.${two(d.getMonth() + 1)}.${d.getFullYear()} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

async function renderManual() {
  const cr = await api('GET', '/api/config');
  const cfg = (cr.ok && cr.data.config) || {};
  const fiscal = cfg.fiscal || {};
  const vatDefault = new Date().getFullYear() >= 2026 ? 'vat22' : 'vat20';
  const VATS = ['none', 'vat0', 'vat5', 'vat7', 'vat10', 'vat20', 'vat22', 'vat105', 'vat107', 'vat110', 'vat120', 'vat122'];
  const METHODS = ['full_payment', 'full_prepayment', 'prepayment', 'advance', 'partial_payment', 'credit', 'credit_payment'];
  const operation = h('select', { id: 'm-operation' }, ['sell', 'sell_refund'].map((o) => h('option', { value: o }, t(`m.${o}`))));
  const extId = h('input', { type: 'text', id: 'm-external_id', value: `web-${Date.now()}` });
  const sno = h('select', { id: 'm-sno' }, (fiscal.tax_systems || SNO).map((s) => h('option', { value: s }, t(`sno.${s}`))));
  const email = h('input', { type: 'email', id: 'm-email' });
  const phone = h('input', { type: 'tel', id: 'm-phone' });
  // the shop's own details are remembered in this browser from the last receipt
  const remembered = JSON.parse(localStorage.getItem('manualCompany') || '{}');
  const inn = h('input', { type: 'text', id: 'm-inn', value: remembered.inn || fiscal.company_inn || '' });
  const companyEmail = h('input', { type: 'email', id: 'm-company-email', value: remembered.email || '' });
  const address = h('input', { type: 'text', id: 'm-address', value: remembered.payment_address || 'https://' + location.host });
  const rows = h('tbody', {});
  const totalCell = h('span', { id: 'm-total', class: 'big' }, '0');
  const pay = {
    1: h('input', { type: 'text', id: 'm-pay-1', inputmode: 'decimal', value: '' }), 0: h('input', { type: 'text', id: 'm-pay-0', inputmode: 'decimal', value: '' }),
    2: h('input', { type: 'text', id: 'm-pay-2', inputmode: 'decimal', value: '' }), 3: h('input', { type: 'text', id: 'm-pay-3', inputmode: 'decimal', value: '' }),
  };
  const recalc = () => {
    let total = 0;
    for (const tr of rows.children) {
      const k = toKop(tr.querySelector('.price').value);
      const q = toMilli(tr.querySelector('.qty').value);
      const sum = Number.isFinite(k) && Number.isFinite(q) ? Math.round((k * q) / 1000) : NaN;
      tr.querySelector('.sum').textContent = Number.isFinite(sum) ? kop(sum) : '?';
      tr.dataset.sum = Number.isFinite(sum) ? String(sum) : '';
      if (Number.isFinite(sum)) total += sum;
    }
    totalCell.textContent = kop(total);
    return total;
  };
  const addRow = (name = '', price = '', qty = '1') => {
    const tr = h('tr', { class: 'item' },
      h('td', {}, h('input', { type: 'text', class: 'name', value: name })), h('td', {}, h('input', { type: 'text', class: 'price', inputmode: 'decimal', value: price })),
      h('td', {}, h('input', { type: 'text', class: 'qty', inputmode: 'decimal', value: qty })), h('td', { class: 'num sum' }, ''),
      h('td', {}, h('select', { class: 'vat' }, VATS.map((v) => h('option', { value: v, selected: v === vatDefault }, v)))),
      h('td', {}, h('select', { class: 'method' }, METHODS.map((v) => h('option', { value: v }, v)))),
      h('td', {}, h('input', { type: 'number', class: 'object', value: '1', min: 1, max: 33 })),
      h('td', {}, h('button', { type: 'button', class: 'link remove', title: 'remove' }, t('m.remove'))));
    tr.querySelector('.remove').addEventListener('click', () => {
      tr.remove();
      recalc();
    });
    tr.addEventListener('input', recalc);
    rows.append(tr);
    recalc();
  };
  addRow();
  const addBtn = h('button', { type: 'button', class: 'secondary', id: 'm-add-item' }, t('m.addItem'));
  addBtn.addEventListener('click', () => addRow());
  const out = h('div', { class: 'result', id: 'm-result' });
  const submit = h('button', { type: 'submit', id: 'm-submit' }, t('m.submit'));
  const form = h('form', { id: 'manual-form', novalidate: true },
    h('fieldset', {}, h('legend', {}, t('m.title')),
      fieldRow(t('m.operation'), operation, 'm-operation'), fieldRow(t('m.external_id'), extId, 'm-external_id'), fieldRow(t('m.sno'), sno, 'm-sno'),
      fieldRow(t('m.email'), email, 'm-email'), fieldRow(t('m.phone'), phone, 'm-phone'), fieldRow(t('m.inn'), inn, 'm-inn'), fieldRow(t('m.companyEmail'), companyEmail, 'm-company-email'), fieldRow(t('m.address'), address, 'm-address'), kktPool.pinChoice()),
    h('fieldset', {}, h('legend', {}, t('m.items')), h('table', { class: 'items' }, h('thead', {}, h('tr', {}, ['m.name', 'm.price', 'm.qty', 'm.sum', 'm.vat', 'm.method', 'm.object', ''].map((k) => h('th', {}, k ? t(k) : '')))), rows), h('p', {}), addBtn,
      h('div', { class: 'field-error', id: 'm-items-error' })),
    h('fieldset', {}, h('legend', {}, t('m.payments')), fieldRow(t('m.card'), pay[1], 'm-pay-1'), fieldRow(t('m.cash'), pay[0], 'm-pay-0'), fieldRow(t('m.prepaid'), pay[2], 'm-pay-2'), fieldRow(t('m.credit'), pay[3], 'm-pay-3'),
      h('p', {}, t('m.total'), ': ', totalCell), h('div', { class: 'field-error', id: 'm-payments-error' })),
    submit, out);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    for (const el of form.querySelectorAll('.field-error')) el.textContent = '';
    for (const el of form.querySelectorAll('.invalid')) el.classList.remove('invalid');
    const total = recalc();
    const items = [...rows.children].map((tr) => {
      const k = toKop(tr.querySelector('.price').value);
      const q = toMilli(tr.querySelector('.qty').value);
      return {
        name: tr.querySelector('.name').value.trim(),
        price: Number.isFinite(k) ? kopToRub(k) : tr.querySelector('.price').value,
        quantity: Number.isFinite(q) ? milliToNum(q) : tr.querySelector('.qty').value,
        measure: 0,
        sum: tr.dataset.sum ? kopToRub(Number(tr.dataset.sum)) : 0,
        payment_method: tr.querySelector('.method').value,
        payment_object: Number(tr.querySelector('.object').value),
        vat: { type: tr.querySelector('.vat').value },
      };
    });
    const payments = [];
    for (const type of [1, 0, 2, 3]) {
      const v = pay[type].value.trim();
      if (!v) continue;
      const k = toKop(v);
      payments.push({ type, sum: Number.isFinite(k) ? kopToRub(k) : v });
    }
    if (payments.length === 0 && total > 0) payments.push({ type: 1, sum: kopToRub(total) });
    const client = {};
    if (email.value.trim()) client.email = email.value.trim();
    if (phone.value.trim()) client.phone = phone.value.trim();
    const company = { email: companyEmail.value.trim(), sno: sno.value, inn: inn.value.trim(), payment_address: address.value.trim() };
    localStorage.setItem('manualCompany', JSON.stringify({ inn: company.inn, email: company.email, payment_address: company.payment_address }));
    const receipt = { operation: operation.value, external_id: extId.value.trim(), timestamp: nowStamp(), receipt: { client, company, items, payments, total: kopToRub(total) } };
    submit.disabled = true;
    out.replaceChildren(t('m.sending'));
    const r = await api('POST', '/api/receipts', kktPool.pinned(receipt));
    submit.disabled = false;
    if (!r.ok) {
      const e = (r.data && r.data.error) || {};
      markReceiptField(e.field);
      return void out.replaceChildren(pill('bad', t('m.rejected', { error: errText(e) })));
    }
    if (r.data.status === 'duplicate') return void out.replaceChildren(pill('warn', t('m.duplicate', { status: t(`j.${r.data.record_status}`) })));
    out.replaceChildren(pill('warn', t('m.accepted')));
    const id = r.data.external_id;
    extId.value = `web-${Date.now()}`;
    const poll = setInterval(async () => {
      const s = await api('GET', `/api/receipts/${encodeURIComponent(id)}`);
      if (!s.ok || s.data.status === 'accepted') return;
      clearInterval(poll);
      const res = s.data.result || {};
      const p = res.payload || {};
      out.replaceChildren(s.data.status === 'done' ? pill('ok', t('m.done', { fd: p.fiscal_document_number, fp: p.fiscal_document_attribute, shift: p.shift_number })) : pill('bad', t('m.failed', { error: errText(res.error) })),
        ' ', h('a', { href: `#/receipt/${encodeURIComponent(id)}`, id: 'm-open' }, id));
    }, 700);
    S.timers.push(poll);
  });
  function markReceiptField(field) {
    if (!field) return;
    const m = /^receipt\.items\[(\d+)\]\.?(\w+)?/.exec(field);
    if (m) {
      const tr = rows.children[Number(m[1])];
      const cls = { name: 'name', price: 'price', quantity: 'qty', sum: 'price', vat: 'vat', payment_method: 'method', payment_object: 'object' }[m[2]] || 'name';
      if (tr) tr.querySelector(`.${cls}`).classList.add('invalid');
      document.getElementById('m-items-error').textContent = field;
      return;
    }
    const map = { external_id: 'm-external_id', 'receipt.client.email': 'm-email', 'receipt.client.phone': 'm-phone', 'receipt.client': 'm-email', 'receipt.company.inn': 'm-inn', 'receipt.company.email': 'm-company-email', 'receipt.company.sno': 'm-sno', 'receipt.company.payment_address': 'm-address', operation: 'm-operation' };
    const key = Object.keys(map).find((k) => field === k || field.startsWith(`${k}.`));
    if (key) {
      document.getElementById(map[key]).classList.add('invalid');
      document.getElementById(`${map[key]}-error`).textContent = field;
    } else if (field.startsWith('receipt.payments') || field === 'receipt.total') document.getElementById('m-payments-error').textContent = field;
  }
  mount(form);
}

// ---------------------------------------------------------------------------------------------------- users, audit (admin.js)
const renderUsers = () => window.kktAdmin.users();
const renderAudit = () => window.kktAdmin.audit();

// ---------------------------------------------------------------------------------------------------- logs
async function renderLogs() {
  const lvl = h('select', { id: 'logs-level' }, ['debug', 'info', 'warn', 'error'].map((l) => h('option', { value: l, selected: l === 'info' }, l)));
  const list = h('div', { id: 'logs' });
  const load = async () => {
    const r = await api('GET', `/api/logs?level=${lvl.value}`);
    if (!r.ok) return;
    const names = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
    list.replaceChildren(...(r.data.lines.length ? r.data.lines.map((l) => {
      const { level: lv, time, msg, pid: _p, hostname: _h, ...rest } = l;
      const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
      return h('div', { class: `log-line ${lv >= 50 ? 'bad' : lv >= 40 ? 'warn' : ''}` }, `${time ? fmtTime(time) : ''} ${names[lv] || lv} ${msg || ''}${extra}`);
    }) : [h('p', { class: 'muted' }, t('logs.empty'))]));
  };
  lvl.addEventListener('change', load);
  const refresh = h('button', { type: 'button', class: 'secondary' }, t('logs.refresh'));
  refresh.addEventListener('click', load);
  mount(h('h1', {}, t('logs.title')), h('div', { class: 'toolbar' }, h('label', {}, t('logs.level'), lvl), refresh), h('div', { class: 'card' }, list));
  await load();
  S.timers.push(setInterval(load, 5000));
}

// ---------------------------------------------------------------------------------------------------- start
window.addEventListener('hashchange', route);
document.addEventListener('DOMContentLoaded', () => {
  kktPool.onDeviceChange(() => route());
  document.getElementById('lang').addEventListener('click', () => {
    S.lang = S.lang === 'ru' ? 'en' : 'ru';
    localStorage.setItem('lang', S.lang);
    applyLang();
    route();
  });
  document.getElementById('logout').addEventListener('click', async () => {
    await api('POST', '/api/logout');
    S.csrf = '';
    location.hash = '';
    await boot();
  });
  void boot();
});
