"""The main window: the list of instances, and one tab per opened instance with its dashboard."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QHideEvent, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QPushButton,
    QTabBar,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from murmuration.tray import web_engine
from murmuration.tray.action_table import ActionButton, BoundAction, Place, entries
from murmuration.tray.actions import InstanceActions
from murmuration.tray.app_actions import AppActions
from murmuration.tray.icons import state_dot
from murmuration.tray.instance_menu import InstanceMenu
from murmuration.tray.instance_table import InstanceTableModel, InstanceTableView
from murmuration.tray.model import InstanceModel
from murmuration.tray.settings import QuitChoice, TraySettings

if TYPE_CHECKING:
    from murmuration.tray.instance_view import InstanceView

# Ctrl+Tab and Ctrl+Shift+Tab as browsers have them (and Ctrl+PgDown/PgUp); Ctrl+W closes a tab, as there.
NEXT_TAB_KEYS = (QKeySequence(Qt.Modifier.CTRL | Qt.Key.Key_Tab), QKeySequence(Qt.Modifier.CTRL | Qt.Key.Key_PageDown))
PREVIOUS_TAB_KEYS = (
    QKeySequence(Qt.Modifier.CTRL | Qt.Modifier.SHIFT | Qt.Key.Key_Backtab),
    QKeySequence(Qt.Modifier.CTRL | Qt.Modifier.SHIFT | Qt.Key.Key_Tab),
    QKeySequence(Qt.Modifier.CTRL | Qt.Key.Key_PageUp),
)
CLOSE_TAB_KEYS = (QKeySequence(Qt.Modifier.CTRL | Qt.Key.Key_W), QKeySequence(Qt.Modifier.CTRL | Qt.Key.Key_F4))
CLOSE_WINDOW_KEYS = (QKeySequence(Qt.Modifier.CTRL | Qt.Modifier.SHIFT | Qt.Key.Key_W),)

QUIT_CHOICES = (
    (QuitChoice.ASK, "Ask what to do with running instances"),
    (QuitChoice.STOP, "Stop all instances"),
    (QuitChoice.LEAVE, "Leave instances running"),
)


class MainWindow(QMainWindow):
    """Renders the model as a table and tabs; intents leave as signals or go to InstanceActions."""

    quit_choice_chosen = Signal(object)  # a QuitChoice
    # The window was closed while the tray icon stays: the app goes on in the tray.
    hidden_to_tray = Signal()

    def __init__(
        self,
        model: InstanceModel,
        actions: InstanceActions,
        settings: TraySettings,
        tray_available: bool,
        app: AppActions,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.model = model
        self.app = app
        self.intents = actions
        self.settings = settings
        self.tray_available = tray_available
        self.views: dict[str, InstanceView] = {}
        self.setWindowTitle("Murmuration")
        self.resize(1100, 720)
        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        self.tabs.setTabsClosable(True)
        self.tabs.setMovable(True)
        self.tabs.tabCloseRequested.connect(self.close_tab)
        self.table_model = InstanceTableModel(model, self)
        self.table = InstanceTableView(self.table_model, self)
        self.table.open_requested.connect(self.open_instance)
        self.table.customContextMenuRequested.connect(self._row_menu)
        self.table.selectionModel().currentChanged.connect(lambda *_: self._update_buttons())
        self.tabs.addTab(self._instances_page(), "Instances")
        # The list is always there: its tab has no close button.
        self.tabs.tabBar().setTabButton(0, QTabBar.ButtonPosition.RightSide, None)
        self.tabs.tabBar().setTabButton(0, QTabBar.ButtonPosition.LeftSide, None)
        self.setCentralWidget(self.tabs)
        web_engine.prepare_surface(self)  # so the first dashboard tab does not re-create (flicker) the window
        self._build_menus()
        self.tabs.currentChanged.connect(lambda *_: self._current_tab_changed())
        self._current_tab_changed()
        model.instance_added.connect(lambda *_: self._update_empty())
        model.instance_removed.connect(self._instance_removed)
        model.instance_changed.connect(self._instance_changed)
        self._update_empty()
        self._update_buttons()
        geometry = settings.window_geometry
        if geometry is not None:
            self.restoreGeometry(geometry)

    # --- building ----------------------------------------------------------------------------------------------

    def _instances_page(self) -> QWidget:
        page = QWidget(self)
        self.new_button = QPushButton("New instance…", page)
        self.new_button.clicked.connect(self.app.new_instance.trigger)
        bar = QHBoxLayout()
        bar.addWidget(self.new_button)
        bar.addSpacing(12)
        # The action table's window entries, each acting on the selected row; destructive ones at the far end.
        self.row_actions: dict[str, BoundAction] = {}
        self.row_buttons: dict[str, ActionButton] = {}
        trailing: list[ActionButton] = []
        for entry in entries(Place.WINDOW):
            assert entry is not None  # only the menu has separators
            action = BoundAction(entry, self.intents, self.table.selected_id, self)
            button = ActionButton(action, page)
            self.row_actions[entry.name] = action
            self.row_buttons[entry.name] = button
            if entry.destructive:
                trailing.append(button)
            else:
                bar.addWidget(button)
        bar.addStretch(1)
        for button in trailing:
            bar.addWidget(button)
        self.empty_label = QLabel(
            "<p><b>No instances yet.</b></p><p>An instance is the hub of one project: the issues, knowledge, "
            "queue and processes its agents share, with a dashboard. Create one with “New instance…” above; "
            "the instances agents start by themselves appear here too.</p>",
            page,
        )
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        layout = QVBoxLayout(page)
        layout.addLayout(bar)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.empty_label)
        page.setFocusProxy(self.table)  # coming back to the list's tab puts the keys on the list
        return page

    def row_button(self, name: str) -> ActionButton:
        """The button over the list for the action table's entry `name`."""
        return self.row_buttons[name]

    def _build_menus(self) -> None:
        menu = self.menuBar().addMenu("&Murmuration")
        menu.setToolTipsVisible(True)
        menu.addAction(self.app.new_instance)
        menu.addSeparator()
        menu.addAction(self.app.start_at_login)
        quitting = menu.addMenu("When quitting")
        group = QActionGroup(self)
        self.quit_choice_actions: dict[QuitChoice, QAction] = {}
        for choice, text in QUIT_CHOICES:
            action = quitting.addAction(text)
            action.setCheckable(True)
            group.addAction(action)
            action.triggered.connect(lambda _=False, c=choice: self.quit_choice_chosen.emit(c))
            self.quit_choice_actions[choice] = action
        self.show_quit_choice(self.settings.quit_choice)
        menu.addSeparator()
        self.close_window_action = self._shortcut(menu, "Close &window", self.close, CLOSE_WINDOW_KEYS)
        menu.addAction(self.app.quit)
        tabs = self.menuBar().addMenu("&Tabs")
        # Window-wide shortcuts, not the tab widget's own keys: a focused web view takes every key press
        # before its parents see it, but shortcuts are matched before any widget gets the key.
        self.next_tab_action = self._shortcut(tabs, "&Next tab", lambda: self.step_tab(1), NEXT_TAB_KEYS)
        self.previous_tab_action = self._shortcut(tabs, "&Previous tab", lambda: self.step_tab(-1), PREVIOUS_TAB_KEYS)
        tabs.addSeparator()
        self.close_tab_action = self._shortcut(
            tabs, "&Close tab", lambda: self.close_tab(self.tabs.currentIndex()), CLOSE_TAB_KEYS
        )
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(self.app.show_tray_log)
        help_menu.addAction(self.app.about)

    def _shortcut(self, menu: QMenu, text: str, slot: Callable[[], object], keys: tuple[QKeySequence, ...]) -> QAction:
        action = menu.addAction(text)
        action.setShortcuts(list(keys))
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(slot)
        self.addAction(action)  # live while the menu bar is hidden or a menu is closed, too
        return action

    # --- rendering ---------------------------------------------------------------------------------------------

    def show_quit_choice(self, choice: QuitChoice) -> None:
        self.quit_choice_actions[choice].setChecked(True)

    def _update_empty(self) -> None:
        empty = not self.model.instances()
        self.empty_label.setVisible(empty)

    def _update_buttons(self) -> None:
        instance_id = self.table.selected_id()
        instance = self.model.get(instance_id) if instance_id else None
        for action in self.row_actions.values():
            action.render(instance)

    def _instance_changed(self, instance_id: str) -> None:
        if instance_id == self.table.selected_id():
            self._update_buttons()
        view = self.views.get(instance_id)
        instance = self.model.get(instance_id)
        if view is not None and instance is not None:
            index = self.tabs.indexOf(view)
            self.tabs.setTabText(index, instance.label)
            self.tabs.setTabIcon(index, state_dot(instance.state))
            self.tabs.setTabToolTip(index, f"{instance.label} — {instance.state.label}")
            self._current_tab_changed()

    def _current_tab_changed(self) -> None:
        """The title names the tab in front (the taskbar and window switchers show it); the list's tab has
        no Close."""
        view = self.tabs.currentWidget()
        instance_id = next((key for key, shown in self.views.items() if shown is view), None)
        instance = self.model.get(instance_id) if instance_id else None
        self.setWindowTitle(f"{instance.label} — Murmuration" if instance else "Murmuration")
        self.close_tab_action.setEnabled(instance_id is not None)

    def _instance_removed(self, instance_id: str) -> None:
        self._update_empty()
        self._update_buttons()
        view = self.views.get(instance_id)
        if view is not None:
            self.close_tab(self.tabs.indexOf(view))

    def notify(self, title: str, message: str) -> None:
        self.statusBar().showMessage(f"{title}: {message}", 15000)

    # --- intents -----------------------------------------------------------------------------------------------

    def open_instance(self, instance_id: str) -> InstanceView | None:
        """Open the instance's tab (or focus it when it is open) and bring the window forward."""
        from murmuration.tray.instance_view import InstanceView  # QtWebEngine loads with the first tab

        instance = self.model.get(instance_id)
        if instance is None:
            return None
        view = self.views.get(instance_id)
        if view is None:
            view = InstanceView(self.model, instance_id, self.intents, self.tabs)
            self.views[instance_id] = view
            index = self.tabs.addTab(view, state_dot(instance.state), instance.label)
            self.tabs.setTabToolTip(index, f"{instance.label} — {instance.state.label}")
        self.tabs.setCurrentWidget(view)
        self.table.select_id(instance_id)
        self.show_and_raise()
        return view

    def close_tab(self, index: int) -> None:
        widget = self.tabs.widget(index)
        for instance_id, view in list(self.views.items()):
            if view is widget:
                self.tabs.removeTab(index)
                del self.views[instance_id]
                view.dispose()

    def step_tab(self, step: int) -> None:
        """Bring the next (1) or previous (-1) tab to the front, round the end, with the keys on what it shows."""
        self.tabs.setCurrentIndex((self.tabs.currentIndex() + step) % self.tabs.count())
        self.tabs.currentWidget().setFocus(Qt.FocusReason.TabFocusReason)

    def close_all_tabs(self) -> None:
        for view in list(self.views.values()):
            self.close_tab(self.tabs.indexOf(view))

    def show_and_raise(self) -> None:
        if self.isMinimized():
            self.showNormal()
        self.show()
        self.raise_()
        self.activateWindow()

    def _row_menu(self, pos: QPoint) -> None:
        index = self.table.indexAt(pos)
        instance = self.table_model.instance_at(index.row()) if index.isValid() else None
        if instance is None:
            return
        menu = InstanceMenu(self.model, self.intents, instance.id, self)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.popup(self.table.viewport().mapToGlobal(pos))

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.model.set_sampling(True)  # memory and uptime are read only while they are shown

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        self.model.set_sampling(False)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.settings.window_geometry = self.saveGeometry()
        if self.tray_available:
            # The tray icon stays: closing the window only hides it, with its tabs, as a person left them.
            event.accept()
            self.hidden_to_tray.emit()
            return
        # Without a tray this window is the app: closing it means quitting.
        event.ignore()
        self.app.quit.trigger()
