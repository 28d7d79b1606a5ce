# VRAM Planner's page for self-hosting (and Hugging Face Docker Spaces): the app only, no torch.
#   docker build -t vram-planner . && docker run --rm -p 8501:8501 vram-planner
# Read-only: the Verify page starts no GPU run unless VRAM_PLANNER_ALLOW_RUNS=1 is passed (-e).
# The HTTP API instead of the page: docker run --rm -p 8000:8000 vram-planner python -m planner serve --host 0.0.0.0
FROM python:3.11-slim

# Hugging Face Spaces run the container as user 1000; its home holds the app and the Hub cache.
RUN useradd --create-home --uid 1000 user
USER user
ENV HOME=/home/user \
    PATH=/home/user/.local/bin:$PATH \
    HF_HOME=/home/user/.cache/huggingface \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VRAM_PLANNER_HUB_CACHE_REPOS=500 \
    VRAM_PLANNER_HUB_CACHE_MB=256
WORKDIR /home/user/app

COPY --chown=user requirements.txt .
RUN pip install --no-cache-dir --user -r requirements.txt
COPY --chown=user . .

EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4)"]
CMD ["python", "-m", "streamlit", "run", "app.py", "--server.address=0.0.0.0", "--server.port=8501"]
