; Per-user NSIS installer for aigw on Windows, built offline with Debian's
; makensis (package nsis) by packaging/windows/build-installer.sh; no plugins
; beyond what makensis ships (nsExec).
;
;   makensis -V2 -DVERSION=1.2.3 -DAIGW_EXE=path\aigw.exe -DAIGWW_EXE=path\aigww.exe
;            -DOUTFILE=aigw-1.2.3-x86_64-pc-windows-gnu-setup.exe
;            [-DDESKTOP_EXE=path\aigw-desktop.exe -DWEBVIEW2_DLL=path\WebView2Loader.dll]
;            [-DDOCS_DIR=dir with README.md, install.md, config.md, config.toml]
;            packaging/windows/aigw.nsi
;
; Installs into %LOCALAPPDATA%\Programs\aigw (no administrator prompt, and a
; directory the user owns, so `aigw update apply` can replace aigw.exe),
; a Start-menu folder "AI Model Gateway", an uninstaller and the
; Add/Remove Programs entry under HKCU. /S installs and uninstalls silently;
; /D=DIR (last on the command line) picks another directory.
; The uninstaller leaves the config, data and Credential Manager keys
; (%APPDATA%\aigw) alone: they belong to the user, not to this install.

; A 64-bit installer for the 64-bit aigw.exe (it runs under wine64 alone,
; without 32-bit wine).
Target amd64-unicode
SetCompressor /SOLID lzma
RequestExecutionLevel user
ManifestDPIAware true

!ifndef VERSION
  !error "VERSION is required (-DVERSION=X.Y.Z)"
!endif
!ifndef AIGW_EXE
  !error "AIGW_EXE is required (-DAIGW_EXE=path\aigw.exe)"
!endif
!ifndef OUTFILE
  !define OUTFILE "aigw-${VERSION}-setup.exe"
!endif
; VIProductVersion wants four numbers: the X.Y.Z of VERSION (a -pre or
; +build suffix is dropped) and 0.
!searchparse /noerrors "${VERSION}" "" VMAJOR "." VMINOR "." VPATCH_RAW
!searchparse /noerrors "${VPATCH_RAW}" "" VPATCH "-"
!ifndef VPATCH
  !define VPATCH "${VPATCH_RAW}"
!endif
!searchparse /noerrors "${VPATCH}" "" VPATCH2 "+"
!ifndef VPATCH2
  !define VPATCH2 "${VPATCH}"
!endif

!define PRODUCT "AI Model Gateway"
!define UNINST_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\aigw"

Name "${PRODUCT} ${VERSION}"
OutFile "${OUTFILE}"
InstallDir "$LOCALAPPDATA\Programs\aigw"
InstallDirRegKey HKCU "Software\aigw" "InstallDir"
ShowInstDetails show
ShowUninstDetails show

VIProductVersion "${VMAJOR}.${VMINOR}.${VPATCH2}.0"
VIAddVersionKey /LANG=1033 "ProductName" "${PRODUCT}"
VIAddVersionKey /LANG=1033 "ProductVersion" "${VERSION}"
VIAddVersionKey /LANG=1033 "FileVersion" "${VERSION}"
VIAddVersionKey /LANG=1033 "FileDescription" "${PRODUCT} ${VERSION} setup (per-user)"
VIAddVersionKey /LANG=1033 "LegalCopyright" "aigw contributors"

Page directory
Page instfiles
UninstPage uninstConfirm
UninstPage instfiles

Section "aigw" SecMain
  SectionIn RO
  SetOutPath "$INSTDIR"
  ; A running gateway holds aigw.exe open: a plain overwrite would fail on
  ; Windows. Renaming a running .exe aside works (the updater does the same).
  IfFileExists "$INSTDIR\aigw.exe" 0 +3
    Delete "$INSTDIR\aigw.exe.old"
    Rename "$INSTDIR\aigw.exe" "$INSTDIR\aigw.exe.old"
  File "/oname=aigw.exe" "${AIGW_EXE}"
  Delete "$INSTDIR\aigw.exe.old"
!ifdef AIGWW_EXE
  File "/oname=aigww.exe" "${AIGWW_EXE}"
!endif
!ifdef DESKTOP_EXE
  File "/oname=aigw-desktop.exe" "${DESKTOP_EXE}"
!endif
!ifdef WEBVIEW2_DLL
  File "/oname=WebView2Loader.dll" "${WEBVIEW2_DLL}"
!endif
!ifdef DOCS_DIR
  File "/oname=README.md" "${DOCS_DIR}/README.md"
  File "/oname=install.md" "${DOCS_DIR}/install.md"
  File "/oname=config.md" "${DOCS_DIR}/config.md"
  File "/oname=config.toml" "${DOCS_DIR}/config.toml"
!endif

  WriteUninstaller "$INSTDIR\uninstall.exe"

  ; Start menu (the current user's): the desktop app when it is installed,
  ; else a console with the gateway running in it.
  CreateDirectory "$SMPROGRAMS\${PRODUCT}"
!ifdef DESKTOP_EXE
  CreateShortcut "$SMPROGRAMS\${PRODUCT}\${PRODUCT}.lnk" "$INSTDIR\aigw-desktop.exe" "" "$INSTDIR\aigw-desktop.exe" 0
!else
  CreateShortcut "$SMPROGRAMS\${PRODUCT}\${PRODUCT} (aigw serve).lnk" "$INSTDIR\aigw.exe" "serve" "$INSTDIR\aigw.exe" 0
!endif
  CreateShortcut "$SMPROGRAMS\${PRODUCT}\Uninstall ${PRODUCT}.lnk" "$INSTDIR\uninstall.exe"

  ; Add/Remove Programs (Settings -> Apps), for this user only.
  WriteRegStr HKCU "Software\aigw" "InstallDir" "$INSTDIR"
  WriteRegStr HKCU "${UNINST_KEY}" "DisplayName" "${PRODUCT}"
  WriteRegStr HKCU "${UNINST_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINST_KEY}" "Publisher" "aigw"
  WriteRegStr HKCU "${UNINST_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINST_KEY}" "DisplayIcon" "$INSTDIR\aigw.exe"
  WriteRegStr HKCU "${UNINST_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKCU "${UNINST_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKCU "${UNINST_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINST_KEY}" "NoRepair" 1
SectionEnd

Section "Uninstall"
  ; A scheduled task from `aigw service install` would start a deleted
  ; binary at the next logon: remove it first (no error when there is none).
  ; nsExec (a plugin makensis ships) runs it without a console window.
  IfFileExists "$INSTDIR\aigw.exe" 0 +3
    nsExec::Exec '"$INSTDIR\aigw.exe" service uninstall'
    Pop $0
  Delete "$INSTDIR\aigw.exe"
  Delete "$INSTDIR\aigw.exe.old"
  Delete "$INSTDIR\.aigw.exe.old-*"
  Delete "$INSTDIR\aigww.exe"
  Delete "$INSTDIR\aigw-desktop.exe"
  Delete "$INSTDIR\WebView2Loader.dll"
  Delete "$INSTDIR\README.md"
  Delete "$INSTDIR\install.md"
  Delete "$INSTDIR\config.md"
  Delete "$INSTDIR\config.toml"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"

  Delete "$SMPROGRAMS\${PRODUCT}\${PRODUCT}.lnk"
  Delete "$SMPROGRAMS\${PRODUCT}\${PRODUCT} (aigw serve).lnk"
  Delete "$SMPROGRAMS\${PRODUCT}\Uninstall ${PRODUCT}.lnk"
  RMDir "$SMPROGRAMS\${PRODUCT}"

  DeleteRegKey HKCU "${UNINST_KEY}"
  DeleteRegKey HKCU "Software\aigw"
SectionEnd
