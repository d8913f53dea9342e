from setuptools import find_packages, setup


def read_requirements(path):
    with open(path) as f:
        return [
            line.split('#')[0].strip() for line in f
            if line.split('#')[0].strip() and not line.startswith('-')
        ]


def version():
    scope = {}
    with open('mmmix/version.py') as f:
        exec(f.read(), scope)
    return scope['__version__']


setup(
    name='mmmix',
    version=version(),
    description='Mixup, metric-mix and self-supervised pretraining for '
    'mmpretrain',
    long_description=open('README.md').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('configs', 'tools', 'tests')),
    python_requires='>=3.9',
    # mmcv is installed separately (mmcv-lite on CPU, mmcv on GPU), see
    # requirements/mminstall.txt and the Makefile.
    install_requires=read_requirements('requirements/runtime.txt'),
    extras_require=dict(
        tests=read_requirements('requirements/tests.txt')),
    license='Apache License 2.0',
    zip_safe=False)
