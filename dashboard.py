"""The fundsim dashboard: `streamlit run dashboard.py` (or `fundsim dashboard`).

Two pages: Explore (planners move settlement sliders and watch distributions change) and Compare
(reviewers put results folders or saved scenarios side by side). The simulation itself lives in
`simulator/`, which never imports Streamlit.
"""

import streamlit as st

st.set_page_config(page_title="fundsim: funding shape simulator", page_icon="📊", layout="wide")

page = st.navigation([
    st.Page("dashboard_pages/explore.py", title="Explore", icon="🎚️", default=True),
    st.Page("dashboard_pages/compare.py", title="Compare results", icon="⚖️"),
])
page.run()
