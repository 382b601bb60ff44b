from setuptools import find_packages, setup

setup(
    name='mmdet_sdpt',
    version='0.1.0',
    description='Synchronous Dual Prompt Tuning (SDPT) and baselines for fusion-based '
    'vision-language detectors in MMDetection 3.x',
    packages=find_packages(include=['mmdet_sdpt', 'mmdet_sdpt.*']),
    python_requires='>=3.8',
    # Pinned in requirements.txt; installed by tools/setup_env.sh (mmcv needs a build).
    install_requires=[],
)
