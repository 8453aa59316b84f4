"""The fundsim dashboard: `streamlit run dashboard.py` (or `fundsim dashboard`).

Two pages: Explore (planners move settlement sliders and watch distributions change) and Compare
(reviewers put results folders or saved scenarios side by side). The simulation itself lives in
`simulator/`, which never imports Streamlit.

The repository's `.streamlit/config.toml` binds the server to 127.0.0.1. Streamlit reads it from
the folder it is started in, so a server started elsewhere without `--server.address` would listen
on every interface: then the app shows only how to start it safely (an address given on purpose,
such as `--server.address 0.0.0.0`, is respected).

Icons are Material Symbols, which Streamlit serves with the app, never emoji: a browser without an
emoji font would show empty boxes.

Why the `__main__` guard: Streamlit runs this file as the `__main__` module, so the worker
processes the dashboard's pool starts with the spawn method import it again, as `__mp_main__`.
Guarded, a worker loads only the simulator (under a second) instead of Streamlit and the whole app.
"""

if __name__ == "__main__":
    import streamlit as st

    from dashboard_pages import common as ui

    st.set_page_config(page_title="fundsim: funding shape simulator", page_icon=":material/query_stats:",
                       layout="wide")

    if not st.get_option("server.address"):
        st.error("This dashboard serves this machine only, but the server was started without the "
                 "repository's settings and listens on every network interface. Stop it and start "
                 "it from the repository folder (`streamlit run dashboard.py`, which reads "
                 "`.streamlit/config.toml`), or with `fundsim dashboard`, or give an address on "
                 "purpose with `--server.address`.", icon=":material/lock:")
        st.stop()

    page = st.navigation([
        st.Page("dashboard_pages/explore.py", title="Explore", icon=":material/tune:", default=True),
        st.Page("dashboard_pages/compare.py", title="Compare results", icon=":material/compare_arrows:"),
    ])
    with ui.guarded("This page"):
        page.run()
