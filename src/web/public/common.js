/*
 * kkt-gateway local web page: the one module every page shares — both languages (ru/en), the DOM and formatting
 * helpers, the API calls (CSRF token, session expiry), the page's state. Plain ES modules, no build step. Every text
 * from the server is set with textContent.
 */

// ---------------------------------------------------------------------------------------------------- i18n
export const DICT = {
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
    'cmd.x_report': 'X-отчёт', 'cmd.cash_in': 'Внесение', 'cmd.cash_out': 'Выплата', 'cmd.sum': 'Сумма, ₽', 'cmd.done': 'Выполнено.',
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
    'cmd.x_report': 'X-report', 'cmd.cash_in': 'Cash in', 'cmd.cash_out': 'Cash out', 'cmd.sum': 'Sum, ₽', 'cmd.done': 'Done.',
    'login.username': 'User', 'nav.users': 'Users', 'nav.audit': 'Audit', 'role.admin': 'admin', 'role.cashier': 'cashier',
    'u.title': 'Users', 'u.name': 'Name', 'u.role': 'Role', 'u.created': 'Created', 'u.add': 'Add', 'u.password': 'Password', 'u.remove': 'Remove', 'u.added': 'User added.', 'u.removed': 'User removed.', 'u.own': 'My password',
    'a.title': 'Audit log', 'a.time': 'Time', 'a.user': 'User', 'a.ip': 'Address', 'a.action': 'Action', 'a.outcome': 'Outcome', 'a.detail': 'Detail', 'a.csv': 'Download CSV', 'a.find': 'Show', 'a.empty': 'No entries.', 'a.any': 'any',
  },
};

export const S = { lang: localStorage.getItem('lang') === 'en' ? 'en' : 'ru', csrf: '', session: null, events: null, status: null, timers: [] };

export function t(key, vars) {
  let s = (DICT[S.lang] && DICT[S.lang][key]) || DICT.ru[key] || key;
  if (vars) for (const [k, v] of Object.entries(vars)) s = s.split(`{${k}}`).join(String(v));
  return s;
}

// ---------------------------------------------------------------------------------------------------- DOM helpers
export function h(tag, attrs, ...children) {
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
export function mount(...nodes) {
  const m = $main();
  m.replaceChildren(...nodes);
}
export const pill = (cls, text) => h('span', { class: `pill ${cls}` }, text);
export const dash = (v) => (v === undefined || v === null || v === '' ? t('status.unknown') : v);
export function dl(rows) {
  return h('dl', {}, rows.filter(Boolean).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v instanceof Node ? v : dash(v))]));
}
export function fmtTime(iso) {
  if (!iso) return t('status.unknown');
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(S.lang === 'ru' ? 'ru-RU' : 'en-GB');
}
export function rub(v) {
  if (v === undefined || v === null) return t('status.unknown');
  return Number(v).toLocaleString(S.lang === 'ru' ? 'ru-RU' : 'en-GB', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}
/** kopecks (integer) → "1 234,56" */
export function kop(v) {
  if (v === undefined || v === null) return t('status.unknown');
  const neg = v < 0;
  const a = Math.abs(v);
  const r = `${Math.floor(a / 100)}`.replace(/\B(?=(\d{3})+(?!\d))/g, '\u00a0');
  return `${neg ? '−' : ''}${r}${S.lang === 'ru' ? ',' : '.'}${String(a % 100).padStart(2, '0')}`;
}
export function errText(e) {
  if (!e) return '';
  return [e.code, e.text || e.message].filter(Boolean).join(': ') + (e.field ? ` (${e.field})` : '');
}

// ---------------------------------------------------------------------------------------------------- API
export async function api(method, url, body) {
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
    await reboot();
  }
  if (res.status === 429) data = { error: { code: 'THROTTLED', message: t('err.throttled') } };
  return { ok: res.ok, status: res.status, data };
}

/** what a 401 does (the shell's boot: the login page); set by app.js */
let rebootHook = async () => undefined;
export function onReboot(f) {
  rebootHook = f;
}
export const reboot = () => rebootHook();

export function applyLang() {
  document.documentElement.lang = S.lang;
  document.getElementById('lang').textContent = S.lang === 'ru' ? 'EN' : 'RU';
  for (const el of document.querySelectorAll('[data-t]')) el.textContent = t(el.dataset.t);
}

export function stopLive() {
  if (S.events) S.events.close();
  S.events = null;
  for (const x of S.timers) clearInterval(x);
  S.timers = [];
}

export function banner(text, info) {
  const b = document.getElementById('banner');
  b.hidden = !text;
  b.className = info ? 'banner info' : 'banner';
  b.textContent = text || '';
}

export function fieldRow(label, input, id) {
  return h('div', { class: 'row' }, h('label', { for: id }, label), h('div', {}, input, h('div', { class: 'field-error', id: `${id}-error` })));
}

export const SNO = ['osn', 'usn_income', 'usn_income_outcome', 'envd', 'esn', 'patent'];
