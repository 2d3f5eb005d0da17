"""(being written)"""

from thrifty.ui.pages import page_router

router = page_router()
